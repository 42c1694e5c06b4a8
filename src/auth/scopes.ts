/**
 * JupyterHub's scope language, and how Sifu's permissions map onto it. Pure rules, no I/O.
 *
 * A scope is a base name with an optional filter: `servers`, `servers!user=ada`,
 * `access:servers!server=ada/gpu`, `read:groups!group=course-1`. A base scope implies others (JupyterHub's
 * tree: `admin:users` implies `users` implies `read:users` implies `read:users:name`...). A filter narrows
 * a scope to one user's resources, one server, or the members (and the group itself) of one group.
 *
 * What a token holds is what it asked for, expanded, intersected with what its owner may hold now (the
 * owner's role: `user`, i.e. JupyterHub's `self`, or `admin`; plus, for a non-admin, the few scopes an
 * admin may grant a service account, {@link NON_ADMIN_GRANTABLE}): a demoted owner's tokens lose admin
 * at once, and no request can name more than the creator and the owner hold.
 *
 * Sifu's own names stay accepted, with their Sifu meaning, and are reported in JupyterHub's: `servers`
 * (the owner's servers) is `servers!user=<owner>`, `tokens` is `tokens!user=<owner>`, `admin` is the admin
 * role. A JupyterHub service reading Sifu's scopes with JupyterHub's rules is never misled, because what is
 * reported is always JupyterHub's meaning. `launch` and `courses` are Sifu's alone.
 */
import { SifuError } from '../errors.js';
import { normalizeGroupName, normalizeUsername } from '../names.js';

/** The filters a base scope may carry. */
type FilterKind = 'user' | 'server' | 'group';

interface ScopeDefinition {
  /** Scopes this one implies (JupyterHub's subscopes). */
  implies?: readonly string[];
  /** Filters it accepts; none: only the unfiltered scope exists. */
  filters?: readonly FilterKind[];
  help: string;
}

const USER_FILTERS: readonly FilterKind[] = ['user', 'group'];
const SERVER_FILTERS: readonly FilterKind[] = ['user', 'server', 'group'];
const GROUP_FILTERS: readonly FilterKind[] = ['group'];

/** JupyterHub 5's scopes (those with a meaning in Sifu, and the rest so that asking for them is no error). */
export const SCOPE_DEFINITIONS: Readonly<Record<string, ScopeDefinition>> = {
  'admin-ui': { help: 'the admin page' },
  'admin:users': {
    implies: ['admin:auth_state', 'users', 'delete:users', 'read:roles:users'],
    filters: USER_FILTERS,
    help: 'create, change and delete users',
  },
  users: {
    implies: ['read:users', 'list:users', 'users:activity'],
    filters: USER_FILTERS,
    help: 'read and change users (not their admin flag)',
  },
  'read:users': {
    implies: ['read:users:name', 'read:users:groups', 'read:users:activity'],
    filters: USER_FILTERS,
    help: 'read user models',
  },
  'delete:users': { filters: USER_FILTERS, help: 'delete users' },
  'list:users': { implies: ['read:users:name'], filters: USER_FILTERS, help: 'list users' },
  'read:users:name': { filters: USER_FILTERS, help: 'read user names' },
  'read:users:groups': { filters: USER_FILTERS, help: "read users' groups" },
  'read:users:activity': { filters: USER_FILTERS, help: "read users' last activity" },
  'users:activity': {
    implies: ['read:users:activity'],
    filters: USER_FILTERS,
    help: "update users' activity",
  },
  'admin:auth_state': { filters: USER_FILTERS, help: "read users' authentication state" },
  'admin:server_state': { filters: SERVER_FILTERS, help: "read servers' backend state" },
  'admin:servers': {
    implies: ['admin:server_state', 'servers'],
    filters: SERVER_FILTERS,
    help: 'start, stop, read servers and their backend state',
  },
  servers: {
    implies: ['read:servers', 'delete:servers'],
    filters: SERVER_FILTERS,
    help: 'start, stop and read servers',
  },
  'read:servers': { implies: ['read:users:name'], filters: SERVER_FILTERS, help: 'read server models' },
  'delete:servers': { filters: SERVER_FILTERS, help: 'stop and remove servers' },
  'access:servers': { filters: SERVER_FILTERS, help: 'reach servers through the proxy' },
  tokens: { implies: ['read:tokens'], filters: USER_FILTERS, help: 'create, list and revoke tokens' },
  'read:tokens': { filters: USER_FILTERS, help: 'list tokens' },
  'admin:groups': {
    implies: ['groups', 'delete:groups'],
    filters: GROUP_FILTERS,
    help: 'create and delete groups',
  },
  groups: {
    implies: ['read:groups', 'list:groups'],
    filters: GROUP_FILTERS,
    help: "change groups' members and properties",
  },
  'delete:groups': { filters: GROUP_FILTERS, help: 'delete groups' },
  'read:groups': { implies: ['read:groups:name'], filters: GROUP_FILTERS, help: 'read group models' },
  'list:groups': { implies: ['read:groups:name'], filters: GROUP_FILTERS, help: 'list groups' },
  'read:groups:name': { filters: GROUP_FILTERS, help: 'read group names' },
  'read:roles': {
    implies: ['read:roles:users', 'read:roles:services', 'read:roles:groups'],
    help: 'read role assignments',
  },
  'read:roles:users': { filters: USER_FILTERS, help: "read users' roles" },
  'read:roles:services': { help: "read services' roles" },
  'read:roles:groups': { filters: GROUP_FILTERS, help: "read groups' roles" },
  'list:services': { implies: ['read:services:name'], help: 'list services' },
  'read:services': { implies: ['read:services:name', 'read:roles:services'], help: 'read service models' },
  'read:services:name': { help: 'read service names' },
  'access:services': { help: 'reach services' },
  'read:hub': { help: 'read /hub/api/info' },
  shares: { implies: ['read:shares'], filters: SERVER_FILTERS, help: 'share servers (Sifu: no sharing)' },
  'read:shares': { filters: SERVER_FILTERS, help: 'read shares (Sifu: always none)' },
  'users:shares': { implies: ['read:users:shares'], filters: USER_FILTERS, help: "manage users' shares" },
  'read:users:shares': { filters: USER_FILTERS, help: "read users' shares (Sifu: always none)" },
  'groups:shares': { implies: ['read:groups:shares'], filters: GROUP_FILTERS, help: "manage groups' shares" },
  'read:groups:shares': { filters: GROUP_FILTERS, help: "read groups' shares (Sifu: always none)" },
  proxy: { help: "read the proxy's routes" },
  shutdown: { help: 'shut the hub down (Sifu: refused)' },
  'read:metrics': { help: 'read the Prometheus metrics at /hub/metrics' },
  // Sifu's own.
  launch: { help: 'ask for one-time launch URLs (the XBlock / LMS integration)' },
  courses: { help: "attach, replace and detach courses' base notebooks (course staff)" },
};

/** JupyterHub's `admin` role, plus Sifu's own scopes: an admin holds everything, for everyone. */
export const ADMIN_ROLE_SCOPES: readonly string[] = [
  'admin-ui',
  'admin:users',
  'admin:servers',
  'access:servers',
  'tokens',
  'admin:groups',
  'list:services',
  'read:services',
  'access:services',
  'read:hub',
  'proxy',
  'read:roles',
  'read:metrics',
  'shares',
  'users:shares',
  'groups:shares',
  'launch',
  'courses',
];

/**
 * What a non-admin's tokens may hold beyond their role, when an admin grants it: Sifu's service accounts
 * (the XBlock's user with `launch`, course staff with `courses`, a dashboard with `read:users`). Never
 * anything on other users' servers, tokens or groups, and never the admin role.
 */
const NON_ADMIN_GRANTABLE: readonly string[] = [
  'read:users',
  'list:users',
  'admin:users',
  'launch',
  'courses',
  'read:metrics',
];

/** JupyterHub's `self` for a user: these, each filtered to `!user=<name>`. */
const SELF_SCOPES: readonly string[] = [
  'read:users',
  'users:activity',
  'servers',
  'access:servers',
  'tokens',
  'users:shares',
];

/**
 * Names with a meaning beyond one scope: JupyterHub's metascopes (`self`, `inherit`, `all`), and Sifu's
 * names whose meaning differs from JupyterHub's scope of the same name (`servers`, `tokens`: the
 * owner's; `admin`: the admin role; `read:users`: also lists).
 */
const METASCOPES = new Set(['self', 'inherit', 'all', 'admin', 'servers', 'tokens', 'read:users']);

/** One base scope's reach: every resource (`all`) or the listed filters (`user=ada`, `server=ada/`, ...). */
export type Reach = 'all' | ReadonlySet<string>;
/** Expanded scopes: base scope -> reach. Build with {@link resolveScopes}; read with {@link allows}. */
export type Grants = ReadonlyMap<string, Reach>;

/** Who owns a token (or is behind a session): their role decides what anything of theirs may hold. */
export interface ScopeOwner {
  name: string;
  admin: boolean;
}

/** What a check is about: a user (and maybe one of their servers), or a group. */
export interface ScopeTarget {
  user?: string;
  /** With `user`: the server's name ('' for the default server). */
  server?: string;
  group?: string;
  /** With `user`: the groups the user is in (a `!group=` filter reaches members). */
  userGroups?: readonly string[];
}

interface ParsedScope {
  base: string;
  /** `user=ada`, `server=ada/gpu`, `group=g`; undefined when unfiltered. */
  filter?: string;
}

function invalid(message: string): SifuError {
  return new SifuError('SIFU_ERR_INVALID_SCOPE', message);
}

/** Parses one scope as written (`base` or `base!kind=value`); throws SIFU_ERR_INVALID_SCOPE. */
export function parseScope(raw: string, owner: ScopeOwner): ParsedScope {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > 300)
    throw invalid('a scope must be a name');
  const bang = raw.indexOf('!');
  const base = bang === -1 ? raw : raw.slice(0, bang);
  if (!Object.hasOwn(SCOPE_DEFINITIONS, base) && !METASCOPES.has(base)) {
    throw invalid(`unknown scope: ${base.slice(0, 60)}`);
  }
  if (bang === -1) return { base };
  const definition = SCOPE_DEFINITIONS[base];
  const filterText = raw.slice(bang + 1);
  // `!user` alone is JupyterHub's "the owner" (as in role definitions).
  const [kind, value] = filterText === 'user' ? ['user', owner.name] : splitOnce(filterText, '=');
  if (!definition?.filters?.includes(kind as FilterKind) || value === undefined) {
    throw invalid(`the scope ${base} takes no filter !${kind.slice(0, 20)}`);
  }
  return { base, filter: `${kind}=${normalizeFilterValue(kind as FilterKind, value)}` };
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at === -1 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

const SERVER_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$|^$/;

function normalizeFilterValue(kind: FilterKind, value: string): string {
  try {
    if (kind === 'user') return normalizeUsername(value);
    if (kind === 'group') return normalizeGroupName(value);
    const [user, server] = splitOnce(value, '/');
    if (server === undefined || !SERVER_NAME.test(server))
      throw invalid('a !server= filter is <user>/<server>');
    return `${normalizeUsername(user)}/${server}`;
  } catch (err) {
    if (err instanceof SifuError && err.code === 'SIFU_ERR_INVALID_SCOPE') throw err;
    throw invalid(`invalid !${kind}= filter`);
  }
}

/** The scopes a role holds (JupyterHub's `user` role is `self`; `admin` is {@link ADMIN_ROLE_SCOPES}). */
export function roleScopes(owner: ScopeOwner): string[] {
  return owner.admin ? [...ADMIN_ROLE_SCOPES] : SELF_SCOPES.map((s) => `${s}!user=${owner.name}`);
}

/** The grants of a role, expanded. */
export function roleGrants(owner: ScopeOwner): Grants {
  const grants = new Map<string, Reach>();
  // As JupyterHub means them: the role's unfiltered `tokens` is every user's tokens.
  for (const s of roleScopes(owner)) addParsed(grants, parseScope(s, owner));
  return grants;
}

/** The most any credential of `owner` may hold: the admin role, or `self` plus {@link NON_ADMIN_GRANTABLE}. */
export function ownerCeiling(owner: ScopeOwner): Grants {
  if (owner.admin) return roleGrants(owner);
  const grants = new Map(roleGrants(owner));
  for (const s of NON_ADMIN_GRANTABLE) add(grants, s, undefined);
  return grants;
}

/** The base scopes `base` implies, itself included. */
function closure(base: string): string[] {
  const seen = new Set<string>();
  const walk = (name: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    for (const sub of SCOPE_DEFINITIONS[name]?.implies ?? []) walk(sub);
  };
  walk(base);
  return [...seen];
}

function add(grants: Map<string, Reach>, base: string, filter: string | undefined): void {
  for (const name of closure(base)) {
    const current = grants.get(name);
    if (current === 'all') continue;
    // A filter the implied scope cannot carry (`!server=` on `read:users:name`) narrows to its user.
    const kinds = SCOPE_DEFINITIONS[name]?.filters ?? [];
    let narrowed = filter;
    if (narrowed?.startsWith('server=') && !kinds.includes('server')) {
      narrowed = `user=${narrowed.slice('server='.length).split('/')[0]}`;
    }
    if (narrowed === undefined) grants.set(name, 'all');
    else grants.set(name, new Set([...(current ?? []), narrowed]));
  }
}

/** Expands scopes as written (metascopes and Sifu's names included) without any intersection. */
function expand(raw: readonly string[], owner: ScopeOwner, lenient = false): Map<string, Reach> {
  const grants = new Map<string, Reach>();
  for (const text of raw) {
    let parsed: ParsedScope;
    try {
      parsed = parseScope(text, owner);
    } catch (err) {
      // A stored scope this version does not know (written by a newer one) grants nothing.
      if (lenient) continue;
      throw err;
    }
    const { base, filter } = parsed;
    if (base === 'inherit' || base === 'all') {
      for (const s of roleScopes(owner)) addParsed(grants, parseScope(s, owner));
    } else if (base === 'self') {
      for (const s of roleScopes({ name: owner.name, admin: false })) addParsed(grants, parseScope(s, owner));
    } else if (base === 'admin') {
      // Sifu's `admin` means the admin role, and only while the owner is an admin.
      if (owner.admin) for (const s of ADMIN_ROLE_SCOPES) add(grants, s, undefined);
    } else if ((base === 'servers' || base === 'tokens') && filter === undefined) {
      // Sifu's meaning: the owner's own.
      add(grants, base, `user=${owner.name}`);
    } else if (base === 'read:users' && filter === undefined) {
      // Sifu's `read:users` also lists (JupyterHub's needs `list:users` for that).
      add(grants, 'read:users', undefined);
      add(grants, 'list:users', undefined);
    } else {
      add(grants, base, filter);
    }
  }
  return grants;
}

function addParsed(grants: Map<string, Reach>, parsed: ParsedScope): void {
  add(grants, parsed.base, parsed.filter);
}

/** True when `holder` reaches what filter `filter` names (or everything, when it is undefined). */
function reachCovers(holder: Reach | undefined, filter: string | undefined, groupsOf: GroupsOf): boolean {
  if (holder === undefined) return false;
  if (holder === 'all') return true;
  if (filter === undefined) return false;
  if (holder.has(filter)) return true;
  if (filter.startsWith('server=')) {
    const user = filter.slice('server='.length).split('/')[0] as string;
    if (holder.has(`user=${user}`)) return true;
    return groupsOf(user).some((g) => holder.has(`group=${g}`));
  }
  if (filter.startsWith('user=')) {
    return groupsOf(filter.slice('user='.length)).some((g) => holder.has(`group=${g}`));
  }
  return false;
}

/** The groups a user is in, for `!group=` filters reaching members; unknown users are in none. */
export type GroupsOf = (userName: string) => readonly string[];
const NO_GROUPS: GroupsOf = () => [];

/** What of `wanted` `holder` also reaches: per base scope, the narrower of the two. */
function intersect(wanted: Grants, holder: Grants, groupsOf: GroupsOf): Map<string, Reach> {
  const result = new Map<string, Reach>();
  for (const [base, reach] of wanted) {
    const held = holder.get(base);
    if (held === undefined) continue;
    if (reach === 'all') {
      result.set(base, held);
      continue;
    }
    const kept = new Set<string>();
    for (const filter of reach) if (reachCovers(held, filter, groupsOf)) kept.add(filter);
    // The holder's narrower filters inside a wanted group filter (`!group=g` wanted, `!user=ada` held).
    if (held !== 'all') {
      for (const filter of held) {
        if (!kept.has(filter) && reachCovers(reach, filter, groupsOf)) kept.add(filter);
      }
    }
    if (kept.size > 0) result.set(base, kept);
  }
  return result;
}

/**
 * What a token (or any credential) holds: its scopes as written, expanded, intersected with what its
 * owner may hold now. A stored scope that does not parse grants nothing (and breaks nothing else).
 */
export function resolveScopes(
  raw: readonly string[],
  owner: ScopeOwner,
  groupsOf: GroupsOf = NO_GROUPS,
): Grants {
  return intersect(expand(raw, owner, true), ownerCeiling(owner), groupsOf);
}

/**
 * The scopes of a new token, checked: each must be well formed and one its owner may hold (else
 * SIFU_ERR_INVALID_SCOPE, 400) and that the creator holds (`creator`'s grants; else
 * SIFU_ERR_MISSING_SCOPE, 403). Returns the scopes as written, deduplicated, to be stored.
 */
export function checkRequestedScopes(
  raw: readonly string[],
  owner: ScopeOwner,
  creator: Grants,
  groupsOf: GroupsOf = NO_GROUPS,
  options: { creatorIsOwner?: boolean } = {},
): string[] {
  const ownerGrants = ownerCeiling(owner);
  for (const text of raw) {
    if (parseScope(text, owner).base === 'admin' && !owner.admin) {
      throw new SifuError(
        'SIFU_ERR_INVALID_SCOPE',
        "cannot grant 'admin': the token's owner is not an admin",
      );
    }
    const wanted = expand([text], owner);
    for (const [base, reach] of wanted) {
      const filters = reach === 'all' ? [undefined] : [...reach];
      for (const filter of filters) {
        // As JupyterHub: a scope its owner cannot hold is a bad request (400); one the creator does
        // not hold, a refusal (403).
        if (!reachCovers(ownerGrants.get(base), filter, groupsOf)) {
          throw new SifuError(
            'SIFU_ERR_INVALID_SCOPE',
            `cannot grant '${text}': the token's owner cannot hold it`,
          );
        }
        if (!reachCovers(creator.get(base), filter, groupsOf)) {
          // A user asking for more than they hold asks for what the owner does not hold: 400, as JupyterHub.
          throw new SifuError(
            options.creatorIsOwner ? 'SIFU_ERR_INVALID_SCOPE' : 'SIFU_ERR_MISSING_SCOPE',
            `cannot grant '${text}': the creator does not hold it`,
          );
        }
      }
    }
  }
  return [...new Set(raw)];
}

/** True when `grants` allow `base` on `target` (on everything, when no target is given). */
export function allows(grants: Grants, base: string, target?: ScopeTarget): boolean {
  const reach = grants.get(base);
  if (reach === undefined) return false;
  if (reach === 'all') return true;
  if (!target) return false;
  if (target.group !== undefined && reach.has(`group=${target.group}`)) return true;
  if (target.user === undefined) return false;
  if (reach.has(`user=${target.user}`)) return true;
  if (target.server !== undefined && reach.has(`server=${target.user}/${target.server}`)) return true;
  return (target.userGroups ?? []).some((g) => reach.has(`group=${g}`));
}

/** True when `grants` reach `base` for anyone at all (a filtered listing shows what the filters reach). */
export function allowsSome(grants: Grants, base: string): boolean {
  return grants.has(base);
}

/** Every scope of `grants` in JupyterHub's words, sorted: what `/hub/api/user` and token models report. */
export function reportScopes(grants: Grants): string[] {
  const out: string[] = [];
  for (const [base, reach] of grants) {
    if (reach === 'all') out.push(base);
    else for (const filter of reach) out.push(`${base}!${filter}`);
  }
  return out.sort();
}

/** True when `grants` hold every scope of the admin role, for everyone. */
export function holdsAdminRole(grants: Grants): boolean {
  return ADMIN_ROLE_SCOPES.every((s) => closure(s).every((name) => grants.get(name) === 'all'));
}
