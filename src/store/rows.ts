/**
 * The one place where database values become `Store` records and back: times (ISO-8601 text <-> Date),
 * booleans (0/1 <-> boolean) and JSON (text <-> objects). Pure functions, no I/O.
 */
import type { Selectable } from 'kysely';
import type {
  EventRecord,
  GroupRecord,
  HostLoad,
  HostRecord,
  IdentityRecord,
  NamedServerRecord,
  ServerRecord,
  SessionRecord,
  TicketRecord,
  TokenRecord,
  UserRecord,
} from './store.js';
import type {
  EventsTable,
  GroupsTable,
  HostsTable,
  IdentitiesTable,
  NamedServersTable,
  ServersTable,
  SessionsTable,
  TicketsTable,
  TokensTable,
  UsersTable,
} from './tables.js';

/** Fixed-width UTC text, so that comparing two stored times as text compares them as times. */
export function toDbTime(date: Date): string {
  return date.toISOString();
}

export function toDbTimeOrNull(date: Date | null | undefined): string | null {
  return date ? toDbTime(date) : null;
}

export function fromDbTime(text: string): Date {
  return new Date(text);
}

export function fromDbTimeOrNull(text: string | null): Date | null {
  return text === null ? null : fromDbTime(text);
}

export function toDbJson(value: unknown): string {
  return JSON.stringify(value);
}

function parseObject(text: string): Record<string, unknown> {
  const value: unknown = JSON.parse(text);
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

export function userFromRow(row: Selectable<UsersTable>): UserRecord {
  return {
    name: row.name,
    admin: Number(row.admin) === 1,
    createdAt: fromDbTime(row.created_at),
    lastActivity: fromDbTimeOrNull(row.last_activity),
  };
}

export function identityFromRow(row: Selectable<IdentitiesTable>): IdentityRecord {
  return {
    issuer: row.issuer,
    subject: row.subject,
    userName: row.user_name,
    createdAt: fromDbTime(row.created_at),
  };
}

export function serverFromRow(row: Selectable<ServersTable>): ServerRecord {
  return {
    userName: row.user_name,
    name: row.name,
    backend: row.backend,
    state: parseObject(row.state),
    url: row.url,
    secret: row.secret,
    status: row.status === 'running' ? 'running' : 'pending',
    startedAt: fromDbTime(row.started_at),
    lastActivity: fromDbTimeOrNull(row.last_activity),
    host: row.host ?? null,
    userOptions: parseObject(row.user_options ?? '{}'),
  };
}

export function serverToRow(record: ServerRecord): Selectable<ServersTable> {
  return {
    user_name: record.userName,
    name: record.name,
    backend: record.backend,
    state: toDbJson(record.state),
    url: record.url,
    secret: record.secret,
    status: record.status,
    started_at: toDbTime(record.startedAt),
    last_activity: toDbTimeOrNull(record.lastActivity),
    host: record.host,
    user_options: toDbJson(record.userOptions ?? {}),
  };
}

/** A load's four numbers, whatever else the JSON held; a missing one reads as 0. */
function parseLoad(text: string): HostLoad {
  const value = parseObject(text);
  const count = (key: keyof HostLoad) => {
    const n = value[key];
    return typeof n === 'number' && Number.isFinite(n) ? n : 0;
  };
  return {
    servers: count('servers'),
    maxServers: count('maxServers'),
    memAvailable: count('memAvailable'),
    memPerServer: count('memPerServer'),
  };
}

export function loadToDb(load: HostLoad): string {
  return toDbJson({
    servers: load.servers,
    maxServers: load.maxServers,
    memAvailable: load.memAvailable,
    memPerServer: load.memPerServer,
  });
}

export function hostFromRow(row: Selectable<HostsTable>): HostRecord {
  return {
    id: row.id,
    relayUrl: row.relay_url,
    epoch: Number(row.epoch),
    startedAt: fromDbTime(row.started_at),
    lastSeen: fromDbTime(row.last_seen),
    draining: Number(row.draining) === 1,
    gone: Number(row.gone) === 1,
    load: parseLoad(row.load),
  };
}

/** A group with its members (by name) and properties. */
export function groupFromRow(row: Selectable<GroupsTable>, users: string[]): GroupRecord {
  return {
    name: row.name,
    users,
    properties: parseObject(row.properties),
    createdAt: fromDbTime(row.created_at),
  };
}

export function namedServerFromRow(row: Selectable<NamedServersTable>): NamedServerRecord {
  return {
    userName: row.user_name,
    name: row.name,
    userOptions: parseObject(row.user_options),
    createdAt: fromDbTime(row.created_at),
    lastActivity: fromDbTimeOrNull(row.last_activity),
  };
}

export function tokenFromRow(row: Omit<Selectable<TokensTable>, 'hash'>): TokenRecord {
  const scopes: unknown = JSON.parse(row.scopes);
  return {
    id: row.id,
    userName: row.user_name,
    scopes: Array.isArray(scopes) ? scopes.filter((s): s is string => typeof s === 'string') : [],
    note: row.note,
    createdAt: fromDbTime(row.created_at),
    expiresAt: fromDbTimeOrNull(row.expires_at),
    lastActivity: fromDbTimeOrNull(row.last_activity),
  };
}

export function sessionFromRow(row: Omit<Selectable<SessionsTable>, 'hash'>): SessionRecord {
  return {
    userName: row.user_name,
    createdAt: fromDbTime(row.created_at),
    expiresAt: fromDbTime(row.expires_at),
    parentHash: row.parent_hash,
  };
}

export function ticketFromRow(row: Selectable<TicketsTable>): TicketRecord {
  return {
    kind: row.kind,
    userName: row.user_name,
    data: parseObject(row.data),
    expiresAt: fromDbTime(row.expires_at),
  };
}

export function eventFromRow(row: Selectable<EventsTable>): EventRecord {
  return {
    id: Number(row.id),
    at: fromDbTime(row.at),
    type: row.type,
    userName: row.user_name,
    data: parseObject(row.data),
  };
}
