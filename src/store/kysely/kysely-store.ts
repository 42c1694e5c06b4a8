/**
 * The `Store`, written once against kysely: the same queries run on SQLite and PostgreSQL. Only the
 * connection (`sqlite/`, `postgres/`) and a few lines of DDL (`migrations.ts`) differ between the two.
 * Each resource's queries live in their own file here; this class composes them over one handle.
 */
import type { Kysely } from 'kysely';
import { migrateToLatest, type SqlFlavour } from '../migrations.js';
import type {
  CourseNotebookRecord,
  EventRecord,
  GroupRecord,
  HostLoad,
  HostRecord,
  IdentityRecord,
  LeaseRecord,
  NamedServerRecord,
  NewToken,
  ServerRecord,
  SessionRecord,
  Store,
  StoreChange,
  TicketRecord,
  TokenRecord,
  UserRecord,
} from '../store.js';
import type { Tables } from '../tables.js';
import { KyselyCourseNotebooks } from './course-notebooks.js';
import { KyselyEvents } from './events.js';
import { KyselyGroups } from './groups.js';
import { KyselyHosts } from './hosts.js';
import { KyselyIdentities } from './identities.js';
import { KyselyLeases } from './leases.js';
import { KyselyNamedServers } from './named-servers.js';
import { KyselyServers } from './servers.js';
import { KyselySessions } from './sessions.js';
import { KyselySettings } from './settings.js';
import { KyselyTickets } from './tickets.js';
import { KyselyTokens } from './tokens.js';
import { KyselyUserUids } from './user-uids.js';
import { KyselyUsers } from './users.js';

/** How a database that can push changes subscribes to them (`Store.subscribe`); absent where none can. */
export type ChangeSubscriber = (
  onChange: (change: StoreChange) => void,
  onResubscribed: () => void,
) => Promise<() => Promise<void>>;

export class KyselyStore implements Store {
  readonly #db: Kysely<Tables>;
  readonly #flavour: SqlFlavour;
  #closing: Promise<void> | undefined;
  readonly #users: KyselyUsers;
  readonly #groups: KyselyGroups;
  readonly #identities: KyselyIdentities;
  readonly #servers: KyselyServers;
  readonly #namedServers: KyselyNamedServers;
  readonly #tokens: KyselyTokens;
  readonly #sessions: KyselySessions;
  readonly #tickets: KyselyTickets;
  readonly #courseNotebooks: KyselyCourseNotebooks;
  readonly #leases: KyselyLeases;
  readonly #events: KyselyEvents;
  readonly #uids: KyselyUserUids;
  readonly #hosts: KyselyHosts;
  readonly #settings: KyselySettings;
  /** The stop functions of the subscriptions still running: `close()` ends them. */
  readonly #subscriptions = new Set<() => Promise<void>>();
  readonly subscribe?: ChangeSubscriber;

  constructor(db: Kysely<Tables>, flavour: SqlFlavour, options: { subscriber?: ChangeSubscriber } = {}) {
    this.#db = db;
    this.#flavour = flavour;
    this.#users = new KyselyUsers(db);
    this.#groups = new KyselyGroups(db);
    this.#identities = new KyselyIdentities(db);
    this.#servers = new KyselyServers(db);
    this.#namedServers = new KyselyNamedServers(db);
    this.#tokens = new KyselyTokens(db);
    this.#sessions = new KyselySessions(db);
    this.#tickets = new KyselyTickets(db);
    this.#courseNotebooks = new KyselyCourseNotebooks(db);
    this.#leases = new KyselyLeases(db);
    this.#events = new KyselyEvents(db);
    this.#uids = new KyselyUserUids(db);
    this.#hosts = new KyselyHosts(db);
    this.#settings = new KyselySettings(db);
    const subscriber = options.subscriber;
    if (subscriber)
      this.subscribe = (onChange, onResubscribed) => this.#subscribe(subscriber, onChange, onResubscribed);
  }

  async #subscribe(
    subscriber: ChangeSubscriber,
    onChange: (change: StoreChange) => void,
    onResubscribed: () => void,
  ): Promise<() => Promise<void>> {
    if (this.#closing) throw new Error('the store is closed');
    const stopListening = await subscriber(onChange, onResubscribed);
    let stopping: Promise<void> | undefined;
    const stop = () => {
      stopping ??= (async () => {
        this.#subscriptions.delete(stop);
        await stopListening();
      })();
      return stopping;
    };
    this.#subscriptions.add(stop);
    // Closed while the subscription was starting: it must not outlive the store.
    if (this.#closing) await stop();
    return stop;
  }

  async migrate(): Promise<void> {
    await migrateToLatest(this.#db as Kysely<unknown>, this.#flavour);
  }

  /** Idempotent: a second call waits for the first. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.all([...this.#subscriptions].map((stop) => stop()));
      await this.#db.destroy();
    })();
    return this.#closing;
  }

  // users

  createUser(name: string, options?: { admin?: boolean }): Promise<UserRecord> {
    return this.#users.createUser(name, options);
  }

  ensureUser(name: string): Promise<UserRecord> {
    return this.#users.ensureUser(name);
  }

  getUser(name: string): Promise<UserRecord | null> {
    return this.#users.getUser(name);
  }

  listUsers(): Promise<UserRecord[]> {
    return this.#users.listUsers();
  }

  setAdmin(name: string, admin: boolean): Promise<void> {
    return this.#users.setAdmin(name, admin);
  }

  deleteUser(name: string): Promise<boolean> {
    return this.#users.deleteUser(name);
  }

  touchUser(name: string, at: Date): Promise<void> {
    return this.#users.touchUser(name, at);
  }

  // groups

  createGroup(
    name: string,
    options?: { users?: string[]; properties?: Record<string, unknown> },
  ): Promise<GroupRecord> {
    return this.#groups.createGroup(name, options);
  }

  getGroup(name: string): Promise<GroupRecord | null> {
    return this.#groups.getGroup(name);
  }

  listGroups(options?: { userName?: string }): Promise<GroupRecord[]> {
    return this.#groups.listGroups(options);
  }

  deleteGroup(name: string): Promise<boolean> {
    return this.#groups.deleteGroup(name);
  }

  addGroupMembers(name: string, users: string[]): Promise<GroupRecord> {
    return this.#groups.addGroupMembers(name, users);
  }

  removeGroupMembers(name: string, users: string[]): Promise<GroupRecord> {
    return this.#groups.removeGroupMembers(name, users);
  }

  setGroupProperties(name: string, properties: Record<string, unknown>): Promise<GroupRecord> {
    return this.#groups.setGroupProperties(name, properties);
  }

  // platform identities

  getIdentity(issuer: string, subject: string): Promise<IdentityRecord | null> {
    return this.#identities.getIdentity(issuer, subject);
  }

  listIdentities(userName: string): Promise<IdentityRecord[]> {
    return this.#identities.listIdentities(userName);
  }

  createLinkedUser(
    issuer: string,
    subject: string,
    userName: string,
  ): Promise<{ identity: IdentityRecord; created: boolean } | null> {
    return this.#identities.createLinkedUser(issuer, subject, userName);
  }

  linkExistingUser(issuer: string, subject: string, userName: string): Promise<IdentityRecord | null> {
    return this.#identities.linkExistingUser(issuer, subject, userName);
  }

  // servers

  getServer(userName: string, serverName: string): Promise<ServerRecord | null> {
    return this.#servers.getServer(userName, serverName);
  }

  listServers(): Promise<ServerRecord[]> {
    return this.#servers.listServers();
  }

  claimServer(record: ServerRecord): Promise<boolean> {
    return this.#servers.claimServer(record);
  }

  updateServer(record: ServerRecord): Promise<void> {
    return this.#servers.updateServer(record);
  }

  touchServer(userName: string, serverName: string, at: Date): Promise<void> {
    return this.#servers.touchServer(userName, serverName, at);
  }

  deleteServer(userName: string, serverName: string, secret?: string): Promise<void> {
    return this.#servers.deleteServer(userName, serverName, secret);
  }

  // named servers

  rememberNamedServer(userName: string, name: string, userOptions: Record<string, unknown>): Promise<void> {
    return this.#namedServers.rememberNamedServer(userName, name, userOptions);
  }

  touchNamedServer(userName: string, name: string, at: Date): Promise<void> {
    return this.#namedServers.touchNamedServer(userName, name, at);
  }

  listNamedServers(userName?: string): Promise<NamedServerRecord[]> {
    return this.#namedServers.listNamedServers(userName);
  }

  forgetNamedServer(userName: string, name: string): Promise<boolean> {
    return this.#namedServers.forgetNamedServer(userName, name);
  }

  // tokens

  createToken(input: NewToken): Promise<TokenRecord> {
    return this.#tokens.createToken(input);
  }

  findToken(hash: string): Promise<TokenRecord | null> {
    return this.#tokens.findToken(hash);
  }

  listTokens(userName: string): Promise<TokenRecord[]> {
    return this.#tokens.listTokens(userName);
  }

  deleteToken(userName: string, id: string): Promise<boolean> {
    return this.#tokens.deleteToken(userName, id);
  }

  touchToken(id: string, at: Date): Promise<void> {
    return this.#tokens.touchToken(id, at);
  }

  // sessions

  createSession(hash: string, session: SessionRecord): Promise<void> {
    return this.#sessions.createSession(hash, session);
  }

  getSession(hash: string): Promise<SessionRecord | null> {
    return this.#sessions.getSession(hash);
  }

  deleteSession(hash: string): Promise<void> {
    return this.#sessions.deleteSession(hash);
  }

  deleteExpiredSessions(now: Date): Promise<number> {
    return this.#sessions.deleteExpiredSessions(now);
  }

  // one-time tickets

  createTicket(hash: string, ticket: TicketRecord): Promise<void> {
    return this.#tickets.createTicket(hash, ticket);
  }

  consumeTicket(hash: string, kind: string, now: Date): Promise<TicketRecord | null> {
    return this.#tickets.consumeTicket(hash, kind, now);
  }

  deleteExpiredTickets(now: Date): Promise<number> {
    return this.#tickets.deleteExpiredTickets(now);
  }

  // course notebooks

  putCourseNotebook(record: CourseNotebookRecord, content: string): Promise<boolean> {
    return this.#courseNotebooks.putCourseNotebook(record, content);
  }

  getCourseNotebook(courseId: string, name: string): Promise<CourseNotebookRecord | null> {
    return this.#courseNotebooks.getCourseNotebook(courseId, name);
  }

  getCourseNotebookContent(courseId: string, name: string): Promise<string | null> {
    return this.#courseNotebooks.getCourseNotebookContent(courseId, name);
  }

  listCourseNotebooks(courseId?: string): Promise<CourseNotebookRecord[]> {
    return this.#courseNotebooks.listCourseNotebooks(courseId);
  }

  deleteCourseNotebook(courseId: string, name: string): Promise<boolean> {
    return this.#courseNotebooks.deleteCourseNotebook(courseId, name);
  }

  // leases

  acquireLease(userName: string, holder: string, now: Date, expiresAt: Date): Promise<boolean> {
    return this.#leases.acquireLease(userName, holder, now, expiresAt);
  }

  renewLease(userName: string, holder: string, expiresAt: Date): Promise<boolean> {
    return this.#leases.renewLease(userName, holder, expiresAt);
  }

  releaseLease(userName: string, holder: string): Promise<boolean> {
    return this.#leases.releaseLease(userName, holder);
  }

  getLease(userName: string): Promise<LeaseRecord | null> {
    return this.#leases.getLease(userName);
  }

  // server uids

  uidOf(userName: string, range: { base: number; count: number }): Promise<number | null> {
    return this.#uids.uidOf(userName, range);
  }

  // hosts

  registerHost(
    host: { id: string; relayUrl: string | null; load: HostLoad },
    now: Date,
  ): Promise<HostRecord> {
    return this.#hosts.registerHost(host, now);
  }

  heartbeat(id: string, epoch: number, load: HostLoad, now: Date): Promise<boolean> {
    return this.#hosts.heartbeat(id, epoch, load, now);
  }

  getHost(id: string): Promise<HostRecord | null> {
    return this.#hosts.getHost(id);
  }

  listHosts(): Promise<HostRecord[]> {
    return this.#hosts.listHosts();
  }

  setDraining(id: string, draining: boolean): Promise<boolean> {
    return this.#hosts.setDraining(id, draining);
  }

  declareHostGone(
    id: string,
    epoch: number,
    staleBefore: Date,
    holderOf: (server: ServerRecord) => string,
  ): Promise<ServerRecord[] | null> {
    return this.#hosts.declareHostGone(id, epoch, staleBefore, holderOf);
  }

  forgetHost(id: string): Promise<boolean> {
    return this.#hosts.forgetHost(id);
  }

  // settings

  settingOrInit(key: string, value: string): Promise<string> {
    return this.#settings.settingOrInit(key, value);
  }

  // events

  addEvent(type: string, userName: string | null, data?: Record<string, unknown>): Promise<void> {
    return this.#events.addEvent(type, userName, data);
  }

  listEvents(options?: {
    userName?: string;
    type?: string;
    limit?: number;
    beforeId?: number;
  }): Promise<EventRecord[]> {
    return this.#events.listEvents(options);
  }
}
