import { SifuError } from '../errors.js';
import type { Scope, Store, TokenRecord } from '../store/store.js';
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
  scopes: ReadonlySet<Scope>;
  via: 'session' | 'token' | 'bootstrap';
}

export const BOOTSTRAP_ADMIN = 'sifu-admin';

export function parseScopes(raw: unknown): Scope[] {
  if (raw === undefined) return [];
  const list = typeof raw === 'string' ? raw.split(',').map((s) => s.trim()) : raw;
  if (!Array.isArray(list) || !list.every((s) => typeof s === 'string')) {
    throw new SifuError('SIFU_ERR_INVALID_SCOPE', 'scopes must be a list of scope names');
  }
  const unknown = list.filter((s) => !ALL_SCOPES.includes(s as Scope));
  if (unknown.length > 0) {
    throw new SifuError('SIFU_ERR_INVALID_SCOPE', `unknown scope(s): ${unknown.slice(0, 5).join(', ')}`, {
      logDetail: `known: ${ALL_SCOPES.join(', ')}`,
    });
  }
  return [...new Set(list as Scope[])];
}

export function hasScope(identity: Identity, scope: Scope): boolean {
  return identity.scopes.has('admin') || identity.scopes.has(scope);
}

/** True when `identity` may act on `userName`'s resources under `scope`. */
export function mayActOn(identity: Identity, userName: string, scope: Scope): boolean {
  if (identity.scopes.has('admin')) return true;
  return identity.userName === userName && identity.scopes.has(scope);
}

export interface TokenService {
  create(input: {
    userName: string;
    scopes: Scope[];
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
        scopes,
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
      // A token never grants more than its owner has: `admin` only while the owner is an admin.
      const scopes = new Set(record.scopes.filter((s) => s !== 'admin' || user.admin));
      void store.touchToken(record.id, new Date()).catch(() => {});
      return { userName: user.name, admin: user.admin && scopes.has('admin'), scopes, via: 'token' };
    },
  };
}
