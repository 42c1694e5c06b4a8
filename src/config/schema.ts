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
/** A memory size like 512M or 2G, as bytes. */
export const memSize = z
  .string()
  .regex(/^\d+(\.\d+)?[KMGT]?i?B?$/i, {
    error: (issue) => `must be like 512M or 2G, got '${String(issue.input)}'`,
  })
  .transform((v) => parseMemSize(v));

export function parseMemSize(value: string): number {
  const match = /^(\d+(?:\.\d+)?)([KMGT]?)/i.exec(value);
  const units: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };
  return Math.round(Number(match?.[1] ?? 0) * (units[(match?.[2] ?? '').toUpperCase()] ?? 1));
}
/** The most `workers` Sifu forks, `auto` included. */
export const MAX_WORKERS = 64;
const workersError = {
  error: (issue: { input?: unknown }) =>
    `must be auto or a whole number from 1 to ${MAX_WORKERS}, got '${String(issue.input)}'`,
};
/**
 * Variables Sifu sets in every server's environment itself (src/spawner/local/server-env.ts and the hub
 * endpoint's `JUPYTERHUB_*`): `spawner.environment` may not name them, nor any `SIFU_*`.
 */
const SERVER_OWNED_VARIABLES = new Set([
  'HOME',
  'JUPYTER_TOKEN',
  'JUPYTER_TOKEN_FILE',
  'JUPYTER_RUNTIME_DIR',
  'JUPYTERHUB_API_TOKEN',
  'JUPYTERHUB_API_URL',
  'JUPYTERHUB_ACTIVITY_URL',
  'JUPYTERHUB_CLIENT_ID',
  'JUPYTERHUB_USER',
  'JUPYTERHUB_SERVER_NAME',
  'JUPYTERHUB_SERVICE_PREFIX',
  'JUPYTERHUB_SERVICE_URL',
  'JUPYTERHUB_BASE_URL',
  'JUPYTERHUB_HOST',
  'JUPYTERHUB_OAUTH_CALLBACK_URL',
  'JUPYTERHUB_OAUTH_SCOPES',
  'JUPYTERHUB_OAUTH_ACCESS_SCOPES',
  'JUPYTERHUB_OAUTH_CLIENT_ALLOWED_SCOPES',
]);
/** Variables added to servers' environment: an object in a file, JSON in `SIFU_SPAWNER_ENVIRONMENT`. */
const serverEnvironment = z.preprocess(
  (v) => {
    if (typeof v !== 'string') return v;
    try {
      return JSON.parse(v);
    } catch {
      return v;
    }
  },
  z
    .record(
      z.string(),
      z.string().refine((value) => !value.includes('\0'), 'values must not contain NUL'),
    )
    .superRefine((env, ctx) => {
      const names = Object.keys(env);
      if (names.length > 200) ctx.addIssue({ code: 'custom', message: 'holds at most 200 variables' });
      for (const name of names) {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
          ctx.addIssue({
            code: 'custom',
            message: `'${name.slice(0, 64)}': names are letters, digits and _`,
          });
        } else if (name.startsWith('SIFU_') || SERVER_OWNED_VARIABLES.has(name)) {
          ctx.addIssue({ code: 'custom', message: `${name} is set by Sifu itself` });
        }
      }
    }),
);
const origin = z.string().regex(/^https?:\/\/[^/\s]+$/, 'must be an origin like https://host[:port]');

export const DEFAULT_SPAWNER_COMMAND =
  // A unix socket in a directory only Sifu and the server can open: no TCP port another learner's code,
  // or anything else on the host, could connect to.
  'jupyter notebook --no-browser --sock=${SIFU_SERVER_SOCKET} ' +
  '--NotebookApp.base_url=${SIFU_SERVER_BASE_URL} --notebook-dir=${SIFU_SERVER_ROOT} ' +
  // The proxy enforces Origin, so Jupyter's own origin check (which sees the upstream Host) is relaxed.
  '--NotebookApp.allow_origin=* --NotebookApp.quit_button=False';

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
      'Origin browsers use to reach notebooks (default: http://localhost:<notebook.port> when `notebook.host` is a loopback address, else http://<notebook.host>:<notebook.port>). With per-user origins, learner ada is served at <scheme>://ada.<this host>[:port], so DNS (a wildcard record) and TLS (a wildcard certificate) must cover *.<this host>.',
    ),
    userOrigins: opt(
      z.enum(['auto', 'on', 'off']),
      'auto',
      "One origin per learner (<user>.<notebook host>), so that one learner's pages cannot script another's server, nor an admin's visit. `auto`: on when `notebook.publicUrl`'s host is a DNS name (localhost, notebooks.example.org), off for an IP literal. `off` shares one origin among all learners: any page a learner's server serves can then act in the server of anyone else who opens it; only for single-user or trusted set-ups (see docs/security.md).",
    ),
  },
  workers: opt(
    z.union(
      [
        z.literal('auto'),
        z.coerce.number().int(workersError).min(1, workersError).max(MAX_WORKERS, workersError),
      ],
      workersError,
    ),
    'auto',
    `Sifu processes on this host sharing the hub and notebook ports (node:cluster), so that the proxy uses every core. \`auto\`: one per core (os.availableParallelism(), at most ${MAX_WORKERS}), as nginx's \`worker_processes auto\`, but one with a warm pool (\`spawner.pool.size\` > 0), which only the first worker claims from; 1: a single process. They share sessions, tickets and routes through the store (the embedded SQLite one too); only the first runs the once-per-host work (warm pool, culler, purges).`,
  ),
  cluster: {
    hostId: opt(
      z
        .string()
        .regex(
          /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/,
          'must be 1-63 letters, digits, _ . - (a letter or digit first)',
        )
        .optional(),
      undefined,
      "This host's name among the hosts sharing the store (default: the machine's host name). Replicas on one machine (`workers`) share it; two machines must not.",
    ),
    relayUrl: opt(
      z
        .string()
        .regex(/^http:\/\/[^/\s@]+$/, 'must be an origin like http://10.0.1.12:3336')
        .optional(),
      undefined,
      "Where the other hosts' replicas reach this host's relay, e.g. http://10.0.1.12:3336 (an internal address): set it on every host of a multi-host deployment, so that any replica serves any learner. Unset: one host, no relay listens.",
    ),
    relayHost: opt(
      z.string().min(1),
      '0.0.0.0',
      'Address the relay listens on (only with `cluster.relayUrl`). It admits only replicas presenting the key all replicas share (made once, kept in the store).',
    ),
    relayPort: opt(
      port,
      3336,
      "Port of the relay (with `cluster.relayUrl`): other hosts' replicas forward learners' requests to it.",
    ),
    heartbeatInterval: opt(
      seconds,
      2,
      'Seconds between the heartbeats a host writes to the store (with its load, for placement).',
    ),
    goneAfter: opt(
      seconds,
      15,
      "Seconds a host may stay silent before another declares it gone: its servers are forgotten and their learners' next start runs on a live host. Keep it several heartbeats long.",
    ),
  },
  dataDir: opt(z.string().min(1), './data', "Directory for the embedded database and learners' homes."),
  adminToken: opt(
    z.string().min(16, 'must be at least 16 characters').optional(),
    undefined,
    'A bootstrap admin API token (all scopes), e.g. for provisioning scripts.',
    true,
  ),
  authenticator: opt(
    z.enum(['dev', 'edx', 'oidc']),
    'dev',
    'How learners sign in. `dev`: any valid username, no password (loopback only). `edx`: Open edX OAuth2 (`auth.edx.*`). `oidc`: any OpenID Connect provider (`auth.oidc.*`).',
  ),
  auth: {
    dev: {
      allowNonLoopback: opt(
        bool,
        false,
        'Let the `dev` authenticator run on a non-loopback address (never do this in production).',
      ),
    },
    edx: {
      lmsUrl: opt(
        z.string().min(1).optional(),
        undefined,
        'Base URL of the Open edX LMS, e.g. https://lms.example.org (required with authenticator `edx`).',
      ),
      authorizeUrl: opt(
        z.string().min(1).optional(),
        undefined,
        'Authorization endpoint (default: <lmsUrl>/oauth2/authorize/).',
      ),
      tokenUrl: opt(
        z.string().min(1).optional(),
        undefined,
        'Token endpoint (default: <lmsUrl>/oauth2/access_token/).',
      ),
      meUrl: opt(
        z.string().min(1).optional(),
        undefined,
        "Endpoint naming the signed-in learner's username (default: <lmsUrl>/api/user/v1/me).",
      ),
      accountsUrl: opt(
        z.string().min(1).optional(),
        undefined,
        'Account endpoint for email and name; `{username}` is replaced (default: <lmsUrl>/api/user/v1/accounts/{username}).',
      ),
      clientId: opt(
        z.string().min(1).optional(),
        undefined,
        'Client id of the OAuth2 application registered for Sifu in the LMS (required with `edx`).',
      ),
      clientSecret: opt(
        z.string().min(1).optional(),
        undefined,
        'Client secret of that application (required with `edx`); prefer the environment variable.',
        true,
      ),
      tokenType: opt(
        z.enum(['jwt', 'bearer']),
        'jwt',
        'Access token kind asked of the LMS: `jwt` (sent as `Authorization: JWT ...`) or `bearer`.',
      ),
      scope: opt(z.string().min(1), 'profile email', 'OAuth2 scopes requested from the LMS.'),
      timeout: opt(seconds, 10, 'Seconds to wait for each request to the LMS during sign-in.'),
    },
    oidc: {
      issuer: opt(
        z.string().min(1).optional(),
        undefined,
        'Issuer URL of the OpenID Connect provider; its /.well-known/openid-configuration is read (required with `oidc`).',
      ),
      clientId: opt(
        z.string().min(1).optional(),
        undefined,
        "Sifu's client id at the provider (required with `oidc`).",
      ),
      clientSecret: opt(
        z.string().min(1).optional(),
        undefined,
        "Sifu's client secret at the provider (required with `oidc`); prefer the environment variable.",
        true,
      ),
      scope: opt(z.string().min(1), 'openid profile email', 'Scopes requested; `openid` is always added.'),
      usernameClaim: opt(
        z.string().min(1),
        'preferred_username',
        'Claim (ID token, else userinfo) that names a user at the first sign-in of its issuer and `sub` (lower-cased; with a suffix when another user has that name). Users are found by issuer and `sub`, never by this claim.',
      ),
      timeout: opt(seconds, 10, 'Seconds to wait for each request to the provider during sign-in.'),
    },
    sessionMaxAge: opt(seconds, 8 * 3600, 'Lifetime of a sign-in session, in seconds.'),
    secureCookies: opt(
      z.enum(['auto', 'always', 'never']),
      'auto',
      'Mark cookies Secure, and then name them `__Host-...` (no other host can set them): `auto` does so when the public URL is https or a host browsers trust over http (localhost, *.localhost, 127.0.0.1). Safari keeps no Secure cookie over plain http: use `never` to develop with it.',
    ),
  },
  spawner: {
    backend: opt(
      z.enum(['local', 'docker', 'swarm']),
      'local',
      'Where servers run. `local`: a process per user on this host. `docker`: a container per user (`spawner.docker.*`). `swarm`: a Docker Swarm service per user, on any node.',
    ),
    command: opt(
      z.string().min(1),
      DEFAULT_SPAWNER_COMMAND,
      'Command starting a single-user server, run without a shell. ${SIFU_SERVER_SOCKET} (the unix socket to listen on, as the server sees it), ${SIFU_SERVER_BASE_URL} and ${SIFU_SERVER_ROOT} are expanded; the secret token arrives in JUPYTER_TOKEN. ${SIFU_SERVER_PORT} (a free TCP port) remains for commands that cannot listen on a socket; a TCP port is not isolated from other code on the host, and the `local` backend routes to the socket only.',
    ),
    environment: opt(
      serverEnvironment,
      {},
      'Variables added to every server\'s environment, e.g. `{"JUPYTERHUB_ACTIVITY_INTERVAL": "60"}` (in the environment: `SIFU_SPAWNER_ENVIRONMENT` as a JSON object). Names Sifu sets itself (`SIFU_*`, `HOME`, `JUPYTER_TOKEN`, the `JUPYTERHUB_*` of docs/singleuser.md) are refused.',
    ),
    hubEndpoint: opt(
      z.enum(['auto', 'on', 'off']),
      'auto',
      "Give each server a hub endpoint of its own and the `JUPYTERHUB_*` environment, which JupyterHub's single-user servers (`jupyterhub-singleuser`, images built for JupyterHub) need (docs/singleuser.md). `auto`: when `spawner.command` runs `jupyterhub-singleuser` or docker-stacks' `start-singleuser.sh`, on any backend; a plain Jupyter server then runs no forwarder process (about 10 MB each) and holds no hub token. `on`: every server (a command that wraps one of these); `off`: none. Not with the warm pool (`spawner.pool.size` > 0 and an endpoint are refused together).",
    ),
    startTimeout: opt(seconds, 120, 'Seconds a server may take to become ready before the start fails.'),
    pollInterval: opt(seconds, 30, 'Seconds between checks that running servers are still alive.'),
    routeSyncInterval: opt(
      seconds,
      2,
      'Seconds between reads of the store that bring routes started or stopped by other replicas to this one.',
    ),
    maxServers: opt(
      z.coerce.number().int().min(0),
      0,
      'Servers one host runs at most (0: no bound). With several hosts, a new server goes to the host with the most room (this bound and memory against `memLimit`).',
    ),
    maxConcurrentStarts: opt(
      z.coerce.number().int().min(1),
      10,
      'Server starts each worker runs at most at once (the bound is per worker: a host with `workers` 2 runs up to twice this many); more wait in line, shown as "waiting for a free slot".',
    ),
    allowNamedServers: opt(
      bool,
      false,
      "Let users have named servers besides their default one (JupyterHub's `allow_named_servers`): `/hub/api/users/<name>/servers/<server>`, each at `/user/<name>/<server>/`.",
    ),
    namedServerLimitPerUser: opt(
      z.coerce.number().int().min(0),
      0,
      "Named servers one user may run at once (0: no limit; JupyterHub's `named_server_limit_per_user`). The default server does not count.",
    ),
    docker: {
      image: opt(
        z.string().min(1),
        'sifu/notebook-base:bookworm',
        'Notebook image for `docker` and `swarm` (built by `sifu image build`, or any Jupyter image).',
      ),
      socket: opt(z.string().min(1), '/var/run/docker.sock', 'Docker Engine API socket.'),
      memLimit: opt(
        memSize.optional(),
        undefined,
        'Memory limit of each server container, like 512M or 2G (default: none).',
      ),
      cpuLimit: opt(
        z.coerce.number().positive().optional(),
        undefined,
        'CPU limit of each server container, in CPUs, e.g. 1.5 (default: none).',
      ),
      homePath: opt(
        z.string().regex(/^\/[^\s:]*$/, 'must be an absolute path in the container'),
        '/home/learner',
        "Where the learner's home is mounted in the container.",
      ),
      instance: opt(
        z.string().regex(/^[A-Za-z0-9_.-]{1,40}$/, 'must be 1-40 letters, digits, _ . -'),
        'default',
        "Label telling this deployment's containers and services from another's on the same engine.",
      ),
      constraints: opt(
        list,
        [],
        'Swarm placement constraints of each service, e.g. node.labels.sifu==notebooks.',
      ),
      pidsLimit: opt(
        z.coerce.number().int().min(16),
        1024,
        'Most processes and threads in each server container (a fork bomb stays inside it).',
      ),
      network: opt(
        z.string().min(1).optional(),
        undefined,
        "Egress for learners' code: the name of a Docker network the operator created (and firewalled: no host, no metadata address) that every server container joins. Default: none, containers have no network at all (docs/security.md). Never host or bridge.",
      ),
    },
    local: {
      uidBase: opt(
        z.coerce.number().int().min(1000),
        200_000,
        "First uid of the range the `local` backend runs learners' servers as: each user gets one uid of it (recorded in the store, the same on every host), which owns their home. Choose a range no other account on any host uses.",
      ),
      uidCount: opt(
        z.coerce.number().int().min(1),
        100_000,
        'How many uids the range of `spawner.local.uidBase` holds: the most users that can ever have a server.',
      ),
      memLimit: opt(
        memSize,
        2 * 2 ** 30,
        'Memory limit of each `local` server and everything it starts (its cgroup), like 512M or 2G.',
      ),
      cpuLimit: opt(
        z.coerce.number().positive(),
        1,
        'CPU limit of each `local` server (its cgroup), in CPUs, e.g. 1.5.',
      ),
      pidsLimit: opt(
        z.coerce.number().int().min(16),
        512,
        'Most processes and threads of each `local` server (its cgroup): a fork bomb stays inside it.',
      ),
      readOnlyPaths: opt(
        list.refine((paths) => paths.every((path) => path.startsWith('/')), 'must be absolute paths'),
        [],
        "Host paths a `local` server may read besides /usr and /etc, at the same path (e.g. /opt/conda for a Python of its own). Never Sifu's data directory or the storage root.",
      ),
    },
    pool: {
      size: opt(
        z.coerce.number().int().min(0),
        0,
        'Warm pool: servers started ahead for nobody, claimed at launch (`docker` backend; 0: off).',
      ),
      image: opt(
        z.string().min(1).optional(),
        undefined,
        'Image of the warm pool (default: `spawner.docker.image`).',
      ),
    },
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
    adminAccess: opt(
      bool,
      false,
      "Let admins open learners' servers (each entry audited as an `admin.access` event). Off: an admin gets 403 SIFU_ERR_ADMIN_ACCESS_OFF on anyone else's server. A learner's server serves pages its learner wrote, so this is safe only with per-user origins (`notebook.userOrigins`); Sifu refuses to start with it on and a shared origin.",
    ),
    upstreamIdleTimeout: opt(seconds, 60, 'Seconds an idle pooled connection to a server is kept.'),
    clientIdleTimeout: opt(seconds, 300, 'Seconds an idle client connection (HTTP or WebSocket) is kept.'),
    rawServer: opt(
      bool,
      true,
      "Serve ordinary `/user/` requests with Sifu's own HTTP/1.1 server side (faster: see bench/RESULTS.md); what it does not serve itself (upgrades, chunked uploads, `Expect`, malformed requests, other paths) goes to Node's HTTP server as before. Off: Node's server takes every request.",
    ),
    batchWrites: opt(
      bool,
      true,
      "Hold what ends an exchange for now (a whole small response, a request head with no body) to the end of the event loop's turn, so that the writes of one batch of requests leave together and wake the servers and browsers once (less CPU per request under load: see bench/RESULTS.md). Off: each is written at once.",
    ),
    directWrites: opt(
      bool,
      true,
      "Write the held writes of `batchWrites` with one send(2) through Sifu's native addon when nothing else is queued for the socket, instead of through Node's stream machinery (less CPU per request: see bench/RESULTS.md); what the kernel does not take, and every error, goes through Node as before. Without the addon, or off, Node writes everything.",
    ),
    nativeRelay: opt(
      bool,
      true,
      "Relay an open WebSocket's bytes on a thread of Sifu's native relay (native/relay.c, built by `npm ci` when a C compiler is there) instead of the event loop: a message wakes that small thread, not the JavaScript (about 0.7x the latency the event-loop relay adds, 0.5-0.8x configurable-http-proxy's: see bench/RESULTS.md). Where the relay is not built, or off, the event loop relays as before.",
    ),
  },
  limits: {
    headersTimeout: opt(
      seconds,
      10,
      "Seconds a client has to send a request's headers, on both ports; a client that stalls is disconnected.",
    ),
    hubRequestTimeout: opt(
      seconds,
      30,
      'Seconds a client has to send a whole hub request, body included (hub bodies are small).',
    ),
    maxConnections: opt(
      z.coerce.number().int().min(0),
      0,
      "Most client connections each port holds at once; 0 = 40% of the process's open-file limit each.",
    ),
    maxConnectionsPerAddress: opt(
      z.coerce.number().int().min(0),
      256,
      'Most client connections one address holds on each port (0 = no cap). Raise it behind a load balancer or NAT that does not keep client addresses.',
    ),
  },
  culler: {
    enabled: opt(bool, true, 'Stop servers that have been idle for `culler.idleTimeout`.'),
    idleTimeout: opt(
      seconds,
      3600,
      'Seconds without proxy activity or a busy kernel before a server is stopped.',
    ),
    interval: opt(seconds, 60, 'Seconds between culler runs.'),
    users: opt(
      bool,
      false,
      "Also delete users who have no server and no activity for `culler.idleTimeout` (never admins), once each, as a `user.culled` event; like jupyterhub-idle-culler's `--cull-users`. Their homes are kept.",
    ),
  },
  metrics: {
    requireAuth: opt(
      bool,
      true,
      'Serve `/hub/metrics` only to tokens with the `read:metrics` scope (admin implies it); off: to anyone who can reach the hub port.',
    ),
  },
  storage: {
    root: opt(
      z.string().min(1).optional(),
      undefined,
      "Directory holding every user's home (`<root>/<user>`): local, or an EFS/NFS mount shared by all hosts (default: <dataDir>/homes).",
    ),
    uid: opt(
      z.coerce.number().int().min(0).optional(),
      undefined,
      'Owner given to homes and copied notebooks; default: 1000 on `docker` and `swarm` (the user every server container runs as), else the user Sifu runs as.',
    ),
    gid: opt(
      z.coerce.number().int().min(0).optional(),
      undefined,
      'Group given to homes and copied notebooks; default: 1000 on `docker` and `swarm`, else the group Sifu runs as.',
    ),
    quota: opt(
      z.coerce.number().int().min(0),
      0,
      "Bytes a user's home may hold; a launch over it is refused (0: no quota). EFS has none of its own.",
    ),
    trashRetention: opt(
      seconds,
      30 * 86400,
      'Seconds a deleted learner notebook stays in the trash (outside the home) before it is purged.',
    ),
    maxNotebookBytes: opt(
      z.coerce.number().int().positive(),
      10 * 1024 * 1024,
      'Largest base notebook accepted (upload or git), in bytes.',
    ),
    leaseTtl: opt(
      seconds,
      300,
      "Seconds a server's lease on its home lasts without renewal (renewed every `spawner.pollInterval`).",
    ),
  },
  courses: {
    deploymentToken: opt(
      z.string().min(1).optional(),
      undefined,
      'Token for cloning private git repositories of base notebooks (also read from DEPLOYMENT_TOKEN).',
      true,
    ),
    deploymentTokenFile: opt(
      z.string().min(1),
      '.deployment_token',
      'File holding the deployment token, used when `courses.deploymentToken` is unset.',
    ),
    gitAllowedPrefixes: opt(
      list,
      [],
      'Git repository URL prefixes base notebooks may come from, e.g. https://github.com/my-org/ (a prefix is a whole path segment). Sifu fetches from nowhere else, and the deployment token goes only there; empty: attaching from git is off.',
    ),
  },
  store: {
    url: opt(
      z.string().optional(),
      undefined,
      'Database: `sqlite:<path>` (default `sqlite:<dataDir>/sifu.sqlite`) or `postgres://...`.',
      true,
    ),
  },
  lti: {
    platforms: opt(
      z.preprocess(
        (v) => (typeof v === 'string' ? JSON.parse(v) : v),
        z.array(
          z.strictObject({
            name: z.string().min(1).max(100),
            issuer: z.string().url(),
            clientId: z.string().min(1),
            deploymentIds: z.array(z.string().min(1)).min(1),
            authLoginUrl: z.string().url(),
            jwksUrl: z.string().url(),
            usernameClaim: z
              .string()
              .regex(/^[^#]+(#[^#]+)*$/, 'must be a claim name, then `#key` for each level into an object')
              .optional(),
          }),
        ),
      ),
      [],
      "LTI 1.3 platforms (JSON list): {name, issuer, clientId, deploymentIds, authLoginUrl, jwksUrl, usernameClaim?}. A launcher's Sifu user is the one linked to the launch's issuer and `sub`; their first launch makes a new user (never an admin). `usernameClaim` only names that new user (`lti-<hash of issuer and sub>` without it, or when the claimed name is not ASCII, not a valid name or taken by any other user, which then gets a suffix); it never selects an existing account. A path: a claim name, then `#key` per level into an object, e.g. `https://purl.imsglobal.org/spec/lti/claim/ext#user_username` (Moodle).",
    ),
    gitAttach: opt(
      bool,
      false,
      'An Instructor launch whose custom parameters name a git repository attaches that notebook to the unit (still only from `courses.gitAllowedPrefixes`).',
    ),
  },
  embed: {
    enabled: opt(
      bool,
      false,
      'Notebooks are embedded in a learning platform (iframe): cookies become `SameSite=None; Secure; Partitioned`.',
    ),
    iframeOnly: opt(
      bool,
      false,
      'Refuse top-level navigation to notebooks (only the course iframe may show them), with a friendly page.',
    ),
    allowNewTab: opt(
      bool,
      true,
      'With `embed.iframeOnly`, still offer learners an "open in a new tab" link on that page.',
    ),
  },
  launch: {
    ttl: opt(seconds, 120, 'Seconds a one-time launch URL (from POST /hub/api/launch) stays valid.'),
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
