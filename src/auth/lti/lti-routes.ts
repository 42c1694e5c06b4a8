import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createRemoteJWKSet, type JWTVerifyGetKey, jwtVerify } from 'jose';
import { isSifuError, SifuError } from '../../errors.js';
import type { HubContext } from '../../web/context.js';
import { landOnCourseNotebook } from '../../web/landing.js';
import { userForIdentity } from '../identities.js';
import { hashSecret, newSecret } from '../secrets.js';
import { readCookie, setCookie } from '../sessions.js';
import { type LtiLaunch, type LtiPlatform, readLaunch } from './claims.js';

const STATE_TTL_MS = 10 * 60_000;
const STATE_COOKIE = 'sifu-lti-state';

type Params = Record<string, string | undefined>;

/**
 * LTI 1.3 launches (Open edX's LTI Consumer, Canvas, Moodle): the OIDC third-party-initiated login, then
 * the signed id_token posted back by the platform. State and nonce live in the store as one-time tickets,
 * so they work inside an iframe with third-party cookies blocked; where the browser keeps a partitioned
 * cookie, it also binds the state to the browser (checked when present).
 */
export function registerLtiRoutes(app: FastifyInstance, ctx: HubContext): void {
  const jwks = new Map<string, JWTVerifyGetKey>();
  const keysOf = (platform: LtiPlatform) => {
    let set = jwks.get(platform.jwksUrl);
    if (!set) {
      set = createRemoteJWKSet(new URL(platform.jwksUrl), { timeoutDuration: 5000 });
      jwks.set(platform.jwksUrl, set);
    }
    return set;
  };
  const redirectUri = () => `${ctx.hubOrigin}/hub/lti/launch`;

  const login = async (req: FastifyRequest, reply: FastifyReply) => {
    const params = { ...(req.query as Params), ...((req.body as Params | undefined) ?? {}) };
    const platforms = ctx.config.lti.platforms.filter(
      (p) => p.issuer === params.iss && (!params.client_id || p.clientId === params.client_id),
    );
    const platform = platforms[0];
    if (!platform || platforms.length > 1) {
      throw new SifuError(
        'SIFU_ERR_LTI_UNKNOWN_PLATFORM',
        'this learning platform is not registered with Sifu',
      );
    }
    if (!params.login_hint || params.login_hint.length > 2000) {
      throw new SifuError('SIFU_ERR_BAD_REQUEST', 'the LTI login is missing login_hint');
    }
    const state = newSecret();
    const nonce = newSecret();
    const expiresAt = new Date(Date.now() + STATE_TTL_MS);
    await ctx.store.createTicket(hashSecret(state), {
      kind: 'lti-state',
      userName: null,
      data: { issuer: platform.issuer, clientId: platform.clientId, nonce },
      expiresAt,
    });
    await ctx.store.createTicket(hashSecret(nonce), {
      kind: 'lti-nonce',
      userName: null,
      data: {},
      expiresAt,
    });
    const auth = new URL(platform.authLoginUrl);
    const query: Record<string, string> = {
      scope: 'openid',
      response_type: 'id_token',
      response_mode: 'form_post',
      prompt: 'none',
      client_id: platform.clientId,
      redirect_uri: redirectUri(),
      login_hint: params.login_hint,
      state,
      nonce,
    };
    if (params.lti_message_hint) query.lti_message_hint = params.lti_message_hint.slice(0, 4000);
    for (const [key, value] of Object.entries(query)) auth.searchParams.set(key, value);
    reply.header(
      'set-cookie',
      setCookie(STATE_COOKIE, state, { secure: true, embedded: true, maxAgeSeconds: STATE_TTL_MS / 1000 }),
    );
    return reply.redirect(auth.href, 302);
  };
  app.get('/hub/lti/login', login);
  app.post('/hub/lti/login', login);

  app.post('/hub/lti/launch', async (req, reply) => {
    const body = (req.body as Params | undefined) ?? {};
    const refuse = (why: string) =>
      new SifuError('SIFU_ERR_LTI_INVALID', `the LTI launch was refused: ${why}`);
    if (!body.state || !body.id_token || body.id_token.length > 20_000)
      throw refuse('state or id_token missing');
    const cookieState = readCookie(req.headers.cookie, STATE_COOKIE);
    if (cookieState && cookieState !== body.state) throw refuse('this browser did not start that login');
    const state = await ctx.store.consumeTicket(hashSecret(body.state), 'lti-state', new Date());
    if (!state) throw refuse('unknown or expired state');
    const platform = ctx.config.lti.platforms.find(
      (p) => p.issuer === state.data.issuer && p.clientId === state.data.clientId,
    );
    if (!platform) throw refuse('the platform is no longer registered');
    let payload: Awaited<ReturnType<typeof jwtVerify>>['payload'];
    try {
      ({ payload } = await jwtVerify(body.id_token, keysOf(platform), {
        issuer: platform.issuer,
        audience: platform.clientId,
        algorithms: ['RS256', 'RS384', 'RS512', 'ES256', 'PS256'],
        maxTokenAge: '10m',
        requiredClaims: ['exp', 'iat', 'nonce', 'sub'],
      }));
    } catch (err) {
      throw new SifuError('SIFU_ERR_LTI_INVALID', 'the LTI launch was refused: the id_token is not valid', {
        logDetail: (err as Error).message,
      });
    }
    // A multi-audience token must name us as its authorized party (OIDC Core 3.1.3.7).
    if (Array.isArray(payload.aud) && payload.aud.length > 1 && payload.azp !== platform.clientId) {
      throw refuse('wrong authorized party');
    }
    if (payload.nonce !== state.data.nonce) throw refuse('the nonce does not match');
    if (!(await ctx.store.consumeTicket(hashSecret(String(payload.nonce)), 'lti-nonce', new Date()))) {
      throw refuse('the nonce was already used');
    }
    const launch = readLaunch(platform, payload);
    // The user is the one linked to (issuer, sub); a claimed name only names a user made now.
    const userName = await userForIdentity(
      ctx.store,
      { issuer: platform.issuer, subject: launch.subject, claimedName: launch.claimedName },
      { prefix: 'lti', adoptHashName: true, via: 'lti' },
    );
    await ctx.store.addEvent('lti.launch', userName, {
      platform: platform.name,
      role: launch.role,
      course: launch.courseId,
      unit: launch.unitId,
    });
    await attachForStaff(ctx, launch, userName);
    return landOnCourseNotebook(ctx, req, reply, userName, launch, 'lti');
  });
}

/**
 * Course staff set a unit up by launching it: when the platform's custom parameters name the base
 * notebook in git and the unit has none yet, a staff launch attaches it (learners' launches never do).
 * Git access, validation and the deployment token are the courses service's, as for the API.
 */
async function attachForStaff(ctx: HubContext, launch: LtiLaunch, userName: string): Promise<void> {
  if (launch.role !== 'staff' || !launch.git || !ctx.config.lti.gitAttach) return;
  try {
    await ctx.courses.checkUnit(launch.courseId, launch.unitId, launch.notebook);
    return;
  } catch (err) {
    if (!isSifuError(err) || err.code !== 'SIFU_ERR_COURSE_UNIT_NOT_FOUND') throw err;
  }
  const { record } = await ctx.courseNotebooks.attachFromGit({
    courseId: launch.courseId,
    unitId: launch.unitId,
    name: launch.notebook ?? undefined,
    git: launch.git,
    by: userName,
  });
  await ctx.store.addEvent('course.attach', userName, {
    course: launch.courseId,
    unit: launch.unitId,
    notebook: record.name,
    via: 'lti',
  });
}
