import type { JWTPayload } from 'jose';
import { SifuError } from '../../errors.js';

/** LTI 1.3 claim names (IMS Global LTI Core 1.3). */
export const LTI = {
  messageType: 'https://purl.imsglobal.org/spec/lti/claim/message_type',
  version: 'https://purl.imsglobal.org/spec/lti/claim/version',
  deploymentId: 'https://purl.imsglobal.org/spec/lti/claim/deployment_id',
  targetLinkUri: 'https://purl.imsglobal.org/spec/lti/claim/target_link_uri',
  resourceLink: 'https://purl.imsglobal.org/spec/lti/claim/resource_link',
  context: 'https://purl.imsglobal.org/spec/lti/claim/context',
  roles: 'https://purl.imsglobal.org/spec/lti/claim/roles',
  custom: 'https://purl.imsglobal.org/spec/lti/claim/custom',
} as const;

export interface LtiPlatform {
  name: string;
  issuer: string;
  clientId: string;
  deploymentIds: string[];
  authLoginUrl: string;
  jwksUrl: string;
  /** Where the launch's wished user name is: a claim path (see `claimAt`). */
  usernameClaim?: string;
}

export interface LtiLaunch {
  /** The platform's key for the launcher (`sub`): with the issuer, what the Sifu user is found by. */
  subject: string;
  /** The value at the platform's `usernameClaim` (null without one): a wish for a new user's name, no more. */
  claimedName: unknown;
  role: 'staff' | 'learner';
  courseId: string;
  unitId: string;
  notebook: string | null;
  /** The unit's base notebook in git (custom parameters `git_repo`, `git_path`, `git_ref`), when given. */
  git: { repo: string; path: string; ref?: string } | null;
}

/** Roles that make a launcher course staff (LIS context roles, full URIs or the short forms). */
const STAFF_ROLES = ['Instructor', 'Administrator', 'ContentDeveloper', 'TeachingAssistant', 'Mentor'];

export function roleOf(roles: unknown): 'staff' | 'learner' {
  if (!Array.isArray(roles)) return 'learner';
  const staff = roles.some(
    (r) =>
      typeof r === 'string' && STAFF_ROLES.some((s) => r === s || r.endsWith(`#${s}`) || r.endsWith(`/${s}`)),
  );
  return staff ? 'staff' : 'learner';
}

/**
 * The value at `path` in a launch's claims: a claim name, then `#<key>` for each level into an object, as
 * Moodle's `https://purl.imsglobal.org/spec/lti/claim/ext#user_username`. Undefined when any level is
 * missing or not an object; only own keys are followed. Pure.
 */
export function claimAt(payload: Record<string, unknown>, path: string): unknown {
  let value: unknown = payload;
  for (const key of path.split('#')) {
    if (!value || typeof value !== 'object' || Array.isArray(value) || !Object.hasOwn(value, key)) {
      return undefined;
    }
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

function claimObject(payload: JWTPayload, name: string): Record<string, unknown> {
  const value = payload[name];
  return value && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

/**
 * Checks the LTI-specific claims of a verified id_token (signature, iss, aud and exp are checked by the
 * JWT verification before this) and reads the launch out of them. Pure.
 */
export function readLaunch(platform: LtiPlatform, payload: JWTPayload): LtiLaunch {
  const refuse = (why: string) => new SifuError('SIFU_ERR_LTI_INVALID', `the LTI launch was refused: ${why}`);
  if (payload[LTI.messageType] !== 'LtiResourceLinkRequest') throw refuse('not a resource link launch');
  if (payload[LTI.version] !== '1.3.0') throw refuse('not LTI 1.3.0');
  const deployment = payload[LTI.deploymentId];
  if (typeof deployment !== 'string' || !platform.deploymentIds.includes(deployment)) {
    throw refuse('unknown deployment');
  }
  const link = claimObject(payload, LTI.resourceLink);
  const context = claimObject(payload, LTI.context);
  if (typeof link.id !== 'string' || link.id.length === 0 || link.id.length > 255) {
    throw refuse('no resource link');
  }
  // OpenID Connect Core 2: `sub` is at most 255 ASCII characters.
  if (typeof payload.sub !== 'string' || payload.sub.length === 0 || payload.sub.length > 255) {
    throw refuse('the launch names no user');
  }
  const custom = claimObject(payload, LTI.custom);
  const courseId = typeof context.id === 'string' && context.id ? context.id : `link-${link.id}`;
  return {
    subject: payload.sub,
    claimedName: platform.usernameClaim ? (claimAt(payload, platform.usernameClaim) ?? null) : null,
    role: roleOf(payload[LTI.roles]),
    courseId: courseId.slice(0, 255),
    unitId: link.id,
    notebook: typeof custom.notebook === 'string' && custom.notebook ? custom.notebook.slice(0, 255) : null,
    git:
      typeof custom.git_repo === 'string' && typeof custom.git_path === 'string'
        ? {
            repo: custom.git_repo.slice(0, 2000),
            path: custom.git_path.slice(0, 1000),
            ...(typeof custom.git_ref === 'string' ? { ref: custom.git_ref.slice(0, 255) } : {}),
          }
        : null,
  };
}
