import { SifuError } from '../errors.js';
import type { Scope, Store, TokenRecord } from '../store/store.js';
import {
  allows,
  type Grants,
  type GroupsOf,
  holdsAdminRole,
  parseScope,
  resolveScopes,
  roleGrants,
} from './scopes.js';
import { hashSecret, newSecret, secretsEqual } from './secrets.js';

export const ALL_SCOPES: readonly Scope[] = [
  'admin',
  'read:users',
  'admin:users',
  'servers',
  'tokens',
  'launch',
  'courses',
  'read:metrics',
];

/** What a scope lets its holder do; `admin` implies every other scope, for every user. */
export const SCOPE_HELP: Record<Scope, string> = {
  admin: 'everything, for every user',
  'read:users': 'read every user and their servers',
  'admin:users': 'create and delete users',
  servers: "start and stop the token owner's own servers (every user's with admin)",
  tokens: "create, list and revoke the token owner's own tokens",
  launch: 'ask for one-time launch URLs (the XBlock / LMS integration)',
  courses: "attach, replace and detach courses' base notebooks (course staff)",
  'read:metrics': 'read the Prometheus metrics at /hub/metrics',
};

/** Who is behind a request: a signed-in browser, an API token, or the bootstrap admin token. */
export interface Identity {
  userName: string;
  admin: boolean;
  /** Sifu's coarse scopes (`servers`, `tokens`: the caller's own), derived from `grants` when both are set. */
  scopes: ReadonlySet<Scope>;
  via: 'session' | 'token' | 'bootstrap';
  /**
   * What the caller holds in JupyterHub's terms, filters included (src/auth/scopes.ts). Absent: derived
   * from `scopes` and `via` by {@link grantsOf}.
   */
  grants?: Grants;
  /** The API token's id, when the caller is one (JupyterHub 5's `token_id` in `/hub/api/user`). */
  tokenId?: string;
}

export const BOOTSTRAP_ADMIN = 'sifu-admin';

/**
 * Scopes as written by a client: Sifu's names (`servers`, `launch`...) or JupyterHub's, filters included
 * (`servers!user=ada`); a comma-separated string or a list. Checked for form only (what an owner may hold
 * is decided when the token is made and each time it is used). Throws SIFU_ERR_INVALID_SCOPE.
 */
export function parseScopes(raw: unknown): string[] {
  if (raw === undefined) return [];
  const list = typeof raw === 'string' ? raw.split(',').map((s) => s.trim()) : raw;
  if (!Array.isArray(list) || !list.every((s) => typeof s === 'string')) {
    throw new SifuError('SIFU_ERR_INVALID_SCOPE', 'scopes must be a list of scope names');
  }
  for (const scope of list) parseScope(scope, { name: 'owner', admin: false });
  return [...new Set(list as string[])];
}

/** What `identity` holds in JupyterHub's terms: its own grants, or those its Sifu scopes stand for. */
export function grantsOf(identity: Identity): Grants {
  if (identity.grants) return identity.grants;
  const owner = { name: identity.userName, admin: identity.admin };
  // A signed-in browser holds its user's role; the bootstrap token is an admin's.
  if (identity.via === 'session' || identity.via === 'bootstrap') return roleGrants(owner);
  return resolveScopes([...identity.scopes], owner);
}

/** Sifu's coarse scopes that `grants` amount to, for `userName` (`servers` and `tokens` are their own). */
export function sifuScopesOf(grants: Grants, userName: string): Set<Scope> {
  const scopes = new Set<Scope>();
  if (holdsAdminRole(grants)) scopes.add('admin');
  for (const scope of ['read:users', 'admin:users', 'launch', 'courses', 'read:metrics'] as const) {
    if (allows(grants, scope)) scopes.add(scope);
  }
  for (const scope of ['servers', 'tokens'] as const) {
    if (allows(grants, scope, { user: userName })) scopes.add(scope);
  }
  return scopes;
}

/** Sifu's scope check: `admin` is the whole admin role; `servers` and `tokens` are the caller's own. */
export function hasScope(identity: Identity, scope: Scope): boolean {
  const grants = grantsOf(identity);
  if (scope === 'admin') return holdsAdminRole(grants);
  if (scope === 'servers' || scope === 'tokens') return allows(grants, scope, { user: identity.userName });
  return allows(grants, scope);
}

/** True when `identity` may act on `userName`'s resources under `scope`. */
export function mayActOn(identity: Identity, userName: string, scope: Scope): boolean {
  if (scope === 'servers' || scope === 'tokens') return allows(grantsOf(identity), scope, { user: userName });
  return hasScope(identity, scope);
}

export interface TokenService {
  create(input: {
    userName: string;
    /** As written (Sifu's or JupyterHub's names), already checked by the caller. */
    scopes: readonly string[];
    note?: string;
    expiresInSeconds?: number | null;
  }): Promise<{
    token: string;
    record: TokenRecord;
  }>;
  /** Resolves `Authorization: token <t>` (or `Bearer <t>`); null when absent, unknown or expired. */
  authenticate(authorization: string | undefined): Promise<Identity | null>;
}

export function createTokenService(store: Store, options: { bootstrapAdminToken?: string }): TokenService {
  return {
    async create({ userName, scopes, note, expiresInSeconds }) {
      const token = newSecret();
      const expiresAt = expiresInSeconds ? new Date(Date.now() + expiresInSeconds * 1000) : null;
      const record = await store.createToken({
        userName,
        hash: hashSecret(token),
        scopes: [...scopes],
        note: note ?? '',
        expiresAt,
      });
      return { token, record };
    },

    async authenticate(authorization) {
      if (!authorization) return null;
      const match = /^(?:token|bearer)\s+(\S+)\s*$/i.exec(authorization);
      if (!match) return null;
      const token = match[1] as string;
      if (options.bootstrapAdminToken && secretsEqual(token, options.bootstrapAdminToken)) {
        return { userName: BOOTSTRAP_ADMIN, admin: true, scopes: new Set(['admin']), via: 'bootstrap' };
      }
      const record = await store.findToken(hashSecret(token));
      if (!record) return null;
      const user = await store.getUser(record.userName);
      if (!user) return null;
      // A token never grants more than its owner has now: `admin` only while the owner is an admin.
      const owner = { name: user.name, admin: user.admin };
      let groupsOf: GroupsOf | undefined;
      if (record.scopes.some((s) => s.includes('!group='))) {
        const groups = (await store.listGroups({ userName: user.name })).map((g) => g.name);
        groupsOf = (name) => (name === user.name ? groups : []);
      }
      const grants = resolveScopes(record.scopes, owner, groupsOf);
      const scopes = sifuScopesOf(grants, user.name);
      void store.touchToken(record.id, new Date()).catch(() => {});
      return {
        userName: user.name,
        admin: user.admin && scopes.has('admin'),
        scopes,
        via: 'token',
        grants,
        tokenId: record.id,
      };
    },
  };
}
