import { z } from 'zod';

/**
 * The one declaration of Sifu's configuration. Each leaf has a type, a default and help text; the zod
 * schema (strict keys), the TypeScript type, the `SIFU_*` environment variable names and the reference
 * table in docs/configuration.md are all derived from this tree.
 */
export interface Leaf<T extends z.ZodType = z.ZodType> {
  readonly kind: 'leaf';
  readonly type: T;
  readonly default: z.output<T> | undefined;
  readonly help: string;
  /** Shown instead of the value in `sifu config` output and logs. */
  readonly secret?: boolean;
}

function opt<T extends z.ZodType>(
  type: T,
  def: z.output<T> | undefined,
  help: string,
  secret = false,
): Leaf<T> {
  return { kind: 'leaf', type, default: def, help, secret };
}

const port = z.coerce.number().int().min(1).max(65535);
const seconds = z.coerce.number().positive();
const bool = z.union([
  z.boolean(),
  z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1'),
]);
/** A list from a file (array) or from the environment (comma-separated). */
const list = z.preprocess(
  (v) =>
    typeof v === 'string'
      ? v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : v,
  z.array(z.string().min(1)),
);
const origin = z.string().regex(/^https?:\/\/[^/\s]+$/, 'must be an origin like https://host[:port]');

export const DEFAULT_SPAWNER_COMMAND =
  'jupyter notebook --no-browser --ip=127.0.0.1 --port=${SIFU_SERVER_PORT} ' +
  '--NotebookApp.base_url=${SIFU_SERVER_BASE_URL} --notebook-dir=${SIFU_SERVER_ROOT} ' +
  // The proxy enforces Origin, so Jupyter's own origin check (which sees the upstream Host) is relaxed.
  '--NotebookApp.allow_origin=* ' +
  // Never drift to another port: a neighbour's server answering there would look like ours.
  '--NotebookApp.port_retries=0 --NotebookApp.quit_button=False ' +
  // The local backend runs servers as Sifu's own user, which on a container host is often root.
  '--allow-root';

export const configTree = {
  hub: {
    host: opt(z.string().min(1), '127.0.0.1', 'Address the hub (API, sign-in, pages) listens on.'),
    port: opt(port, 3334, 'Port of the hub: API, sign-in, learner and admin pages.'),
    publicUrl: opt(
      origin.optional(),
      undefined,
      'Origin browsers use to reach the hub (default: http://<hub.host>:<hub.port>).',
    ),
  },
  notebook: {
    host: opt(z.string().min(1), '127.0.0.1', 'Address the notebook proxy listens on.'),
    port: opt(port, 3335, 'Port of the notebook proxy: /user/<name>/... to each learner server.'),
    publicUrl: opt(
      origin.optional(),
      undefined,
      'Origin browsers use to reach notebooks (default: http://<notebook.host>:<notebook.port>).',
    ),
  },
  dataDir: opt(z.string().min(1), './data', "Directory for the embedded database and learners' homes."),
  adminToken: opt(
    z.string().min(16, 'must be at least 16 characters').optional(),
    undefined,
    'A bootstrap admin API token (all scopes), e.g. for provisioning scripts.',
    true,
  ),
  authenticator: opt(z.enum(['dev']), 'dev', 'How learners sign in. `dev`: any valid username, no password.'),
  auth: {
    dev: {
      allowNonLoopback: opt(
        bool,
        false,
        'Let the `dev` authenticator run on a non-loopback address (never do this in production).',
      ),
    },
    sessionMaxAge: opt(seconds, 8 * 3600, 'Lifetime of a sign-in session, in seconds.'),
    secureCookies: opt(
      z.enum(['auto', 'always', 'never']),
      'auto',
      'Mark cookies Secure: `auto` does so when the public URL is https.',
    ),
  },
  spawner: {
    backend: opt(z.enum(['local']), 'local', 'Where servers run. `local`: a process per user on this host.'),
    command: opt(
      z.string().min(1),
      DEFAULT_SPAWNER_COMMAND,
      'Command starting a single-user server. ${SIFU_SERVER_PORT}, ${SIFU_SERVER_BASE_URL} and ${SIFU_SERVER_ROOT} are expanded; the secret token arrives in JUPYTER_TOKEN.',
    ),
    startTimeout: opt(seconds, 120, 'Seconds a server may take to become ready before the start fails.'),
    pollInterval: opt(seconds, 30, 'Seconds between checks that running servers are still alive.'),
  },
  proxy: {
    frameAncestors: opt(
      list,
      ["'self'"],
      'CSP frame-ancestors for notebook pages: the origins allowed to embed them.',
    ),
    allowedOrigins: opt(
      list,
      [],
      'Extra origins allowed to send state-changing requests and WebSockets to notebooks.',
    ),
    upstreamIdleTimeout: opt(seconds, 60, 'Seconds an idle pooled connection to a server is kept.'),
    clientIdleTimeout: opt(seconds, 300, 'Seconds an idle client connection (HTTP or WebSocket) is kept.'),
  },
  culler: {
    enabled: opt(bool, true, 'Stop servers that have been idle for `culler.idleTimeout`.'),
    idleTimeout: opt(
      seconds,
      3600,
      'Seconds without proxy activity or a busy kernel before a server is stopped.',
    ),
    interval: opt(seconds, 60, 'Seconds between culler runs.'),
  },
  store: {
    url: opt(
      z.string().optional(),
      undefined,
      'Database: `sqlite:<path>` (default `sqlite:<dataDir>/sifu.sqlite`) or `postgres://...`.',
      true,
    ),
  },
  log: {
    level: opt(
      z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
      'info',
      'Least severe log level written (JSON lines on stdout).',
    ),
  },
} as const;

type Tree = { readonly [key: string]: Leaf | Tree };
type Resolve<T> = T extends Leaf<infer S> ? z.output<S> : { -readonly [K in keyof T]: Resolve<T[K]> };

export type SifuConfig = Resolve<typeof configTree>;

export function isLeaf(node: Leaf | Tree): node is Leaf {
  return (node as Leaf).kind === 'leaf';
}

/** `hub.port` -> `SIFU_HUB_PORT`, `auth.dev.allowNonLoopback` -> `SIFU_AUTH_DEV_ALLOW_NON_LOOPBACK`. */
export function envName(path: readonly string[]): string {
  return `SIFU_${path.map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_')}`;
}

export interface LeafInfo {
  path: string[];
  leaf: Leaf;
}

export function walkLeaves(tree: Tree = configTree, prefix: string[] = []): LeafInfo[] {
  return Object.entries(tree).flatMap(([key, node]) =>
    isLeaf(node) ? [{ path: [...prefix, key], leaf: node }] : walkLeaves(node, [...prefix, key]),
  );
}

function toZod(tree: Tree): z.ZodType {
  const shape: Record<string, z.ZodType> = {};
  for (const [key, node] of Object.entries(tree)) {
    if (isLeaf(node)) {
      shape[key] = node.default === undefined ? node.type : node.type.default(node.default as never);
    } else {
      shape[key] = toZod(node).prefault({} as never);
    }
  }
  return z.strictObject(shape);
}

export const configSchema = toZod(configTree) as z.ZodType<SifuConfig>;
