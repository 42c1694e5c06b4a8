import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { grantsOf } from '../auth/tokens.js';
import { SifuError } from '../errors.js';
import { normalizeGroupName, normalizeUsername } from '../names.js';
import type { GroupRecord } from '../store/store.js';
import type { HubContext } from '../web/context.js';
import { holds, requireGrant, requireGrantOrHide, requireIdentity } from './identity.js';
import { pageAnswer, pageOf } from './pagination.js';
import { parseBody } from './validate.js';

const MAX_MEMBERS = 10_000;
const usersBody = z.object({ users: z.array(z.string()).max(MAX_MEMBERS) });
const createBody = z
  .object({
    users: z.array(z.string()).max(MAX_MEMBERS).optional(),
    properties: z.record(z.string(), z.unknown()).optional(),
  })
  .optional();
const createManyBody = z.object({ groups: z.array(z.string()).min(1).max(1000) });
const propertiesBody = z.record(z.string(), z.unknown());
/** Properties are free-form JSON for tools (nbgrader): bounded so that one group cannot bloat every read. */
const MAX_PROPERTIES_BYTES = 64 * 1024;

/** A group as JupyterHub reports it. */
export function groupModel(group: GroupRecord) {
  return {
    kind: 'group',
    name: group.name,
    users: group.users,
    properties: group.properties,
    roles: [] as string[],
  };
}

const groupNotFound = (name: string) => new SifuError('SIFU_ERR_GROUP_NOT_FOUND', `no group named ${name}`);

/** A member that is no user is the request's fault (JupyterHub: 400), not a missing resource. */
async function unknownMembersAre400<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof SifuError && err.code === 'SIFU_ERR_USER_NOT_FOUND') {
      throw new SifuError('SIFU_ERR_GROUP_MEMBER_UNKNOWN', err.message);
    }
    throw err;
  }
}

/** `/hub/api/groups`: JupyterHub's groups, with members and `properties`. */
export function registerGroupRoutes(app: FastifyInstance, ctx: HubContext): void {
  const { store } = ctx;

  function members(raw: readonly string[]): string[] {
    return [...new Set(raw.map(normalizeUsername))];
  }

  app.get('/hub/api/groups', async (req) => {
    const identity = await requireIdentity(ctx, req);
    if (!grantsOf(identity).has('list:groups')) {
      throw new SifuError('SIFU_ERR_MISSING_SCOPE', "listing groups needs the 'list:groups' scope");
    }
    const page = pageOf(req);
    const groups = (await store.listGroups()).filter((g) =>
      holds(identity, 'list:groups', { group: g.name }),
    );
    const answer = pageAnswer(req, page, groups);
    if (Array.isArray(answer)) return (answer as GroupRecord[]).map(groupModel);
    const paged = answer as { items: GroupRecord[]; _pagination: unknown };
    return { items: paged.items.map(groupModel), _pagination: paged._pagination };
  });

  app.post('/hub/api/groups', async (req, reply) => {
    const identity = await requireIdentity(ctx, req);
    requireGrant(identity, 'admin:groups');
    const body = parseBody(createManyBody, req.body);
    const names = [...new Set(body.groups.map(normalizeGroupName))];
    for (const name of names) {
      if (await store.getGroup(name))
        throw new SifuError('SIFU_ERR_GROUP_EXISTS', `group ${name} already exists`);
    }
    const created = [];
    for (const name of names) {
      created.push(groupModel(await store.createGroup(name)));
      await store.addEvent('group.create', null, { group: name, by: identity.userName });
    }
    reply.code(201);
    return created;
  });

  app.get<{ Params: { group: string } }>('/hub/api/groups/:group', async (req) => {
    const identity = await requireIdentity(ctx, req);
    const name = normalizeGroupName(req.params.group);
    requireGrantOrHide(identity, 'read:groups', { group: name }, () => groupNotFound(name));
    const group = await store.getGroup(name);
    if (!group) throw groupNotFound(name);
    return groupModel(group);
  });

  app.post<{ Params: { group: string } }>('/hub/api/groups/:group', async (req, reply) => {
    const identity = await requireIdentity(ctx, req);
    requireGrant(identity, 'admin:groups');
    const name = normalizeGroupName(req.params.group);
    const body = parseBody(createBody, req.body);
    const properties = body?.properties ?? {};
    checkPropertiesSize(properties);
    const group = await unknownMembersAre400(() =>
      store.createGroup(name, { users: members(body?.users ?? []), properties }),
    );
    await store.addEvent('group.create', null, { group: name, by: identity.userName, users: group.users });
    reply.code(201);
    return groupModel(group);
  });

  app.delete<{ Params: { group: string } }>('/hub/api/groups/:group', async (req, reply) => {
    const identity = await requireIdentity(ctx, req);
    const name = normalizeGroupName(req.params.group);
    requireGrantOrHide(identity, 'delete:groups', { group: name }, () => groupNotFound(name));
    if (!(await store.deleteGroup(name))) throw groupNotFound(name);
    await store.addEvent('group.delete', null, { group: name, by: identity.userName });
    reply.code(204);
  });

  app.post<{ Params: { group: string } }>('/hub/api/groups/:group/users', async (req) => {
    const identity = await requireIdentity(ctx, req);
    const name = normalizeGroupName(req.params.group);
    requireGrantOrHide(identity, 'groups', { group: name }, () => groupNotFound(name));
    const users = members(parseBody(usersBody, req.body).users);
    const group = await unknownMembersAre400(() => store.addGroupMembers(name, users));
    await store.addEvent('group.add', null, { group: name, by: identity.userName, users });
    return groupModel(group);
  });

  app.delete<{ Params: { group: string } }>('/hub/api/groups/:group/users', async (req) => {
    const identity = await requireIdentity(ctx, req);
    const name = normalizeGroupName(req.params.group);
    requireGrantOrHide(identity, 'groups', { group: name }, () => groupNotFound(name));
    const users = members(parseBody(usersBody, req.body).users);
    const group = await store.removeGroupMembers(name, users);
    await store.addEvent('group.remove', null, { group: name, by: identity.userName, users });
    return groupModel(group);
  });

  app.put<{ Params: { group: string } }>('/hub/api/groups/:group/properties', async (req) => {
    const identity = await requireIdentity(ctx, req);
    const name = normalizeGroupName(req.params.group);
    requireGrantOrHide(identity, 'groups', { group: name }, () => groupNotFound(name));
    const properties = parseBody(propertiesBody, req.body);
    checkPropertiesSize(properties);
    const group = await store.setGroupProperties(name, properties);
    await store.addEvent('group.properties', null, { group: name, by: identity.userName });
    return groupModel(group);
  });
}

function checkPropertiesSize(properties: Record<string, unknown>): void {
  if (JSON.stringify(properties).length > MAX_PROPERTIES_BYTES) {
    throw new SifuError(
      'SIFU_ERR_PAYLOAD_TOO_LARGE',
      `group properties are at most ${MAX_PROPERTIES_BYTES} bytes of JSON`,
    );
  }
}
