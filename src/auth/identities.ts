import { createHash, randomBytes } from 'node:crypto';
import { SifuError } from '../errors.js';
import { normalizeUsername } from '../names.js';
import type { Store } from '../store/store.js';

/** Who signed in, as a platform vouches for it (a verified LTI launch, an OAuth2/OIDC sign-in). */
export interface ClaimedIdentity {
  /** The platform: its `iss`, or the LMS URL. */
  issuer: string;
  /** The platform's key for the person (`sub`): with the issuer, the one thing a user is found by. */
  subject: string;
  /**
   * The name the platform gives the person (a `usernameClaim`, the edX username), or null: only a wish
   * for the name of the user made at the identity's first sign-in. It never selects an existing user.
   */
  claimedName: unknown;
}

export interface IdentityNaming {
  /** Names made from the identity's hash start with it: `lti`, `edx`, `oidc`. */
  prefix: string;
  /**
   * Take over `<prefix>-<hash>` when no identity is linked to it and it is not an admin: LTI named its
   * users so before identities were kept, from the same issuer and `sub`, so that user is this identity's.
   */
  adoptHashName?: boolean;
  /** The authenticator, for the `identity.link` event. */
  via: string;
}

const MAX_NAME = 64;
const SUFFIX_HEX = 8;
const HASH_HEX = 20;
const MAX_SUBJECT = 255;
const RANDOM_TRIES = 3;

function identityDigest(issuer: string, subject: string): string {
  return createHash('sha256').update(`${issuer}|${subject}`).digest('hex');
}

/** `<prefix>-<20 hex digits of sha256(issuer|subject)>`: the name of an identity that claims none. */
export function hashName(prefix: string, issuer: string, subject: string): string {
  return `${prefix}-${identityDigest(issuer, subject).slice(0, HASH_HEX)}`;
}

/**
 * The names a new user of `identity` may get, best first: the claimed name when it is a Sifu name as it
 * is (ASCII, checked before lower-casing, see `normalizeUsername`), that name with a suffix of the
 * identity's hash, then the hash name. Pure; the caller takes the first that is free.
 */
export function nameCandidates(identity: ClaimedIdentity, prefix: string): string[] {
  const digest = identityDigest(identity.issuer, identity.subject);
  const names: string[] = [];
  const wished = usableName(identity.claimedName);
  if (wished) {
    names.push(wished, `${wished.slice(0, MAX_NAME - SUFFIX_HEX - 1)}-${digest.slice(0, SUFFIX_HEX)}`);
  }
  names.push(`${prefix}-${digest.slice(0, HASH_HEX)}`);
  return names;
}

function usableName(claimed: unknown): string | null {
  try {
    return claimed === null || claimed === undefined ? null : normalizeUsername(claimed);
  } catch {
    return null;
  }
}

/**
 * The Sifu user an identity signs in as: the user linked to `(issuer, subject)`, or else a NEW user
 * (never an admin) linked to it now, named by the first free name of `nameCandidates` — a name taken by
 * any other user (an admin, another platform's user, one made by the API) is passed over, never entered.
 * Concurrent first sign-ins of one identity end on one user.
 */
export async function userForIdentity(
  store: Pick<Store, 'getIdentity' | 'createLinkedUser' | 'linkExistingUser' | 'addEvent'>,
  identity: ClaimedIdentity,
  naming: IdentityNaming,
): Promise<string> {
  const { issuer, subject } = identity;
  if (!issuer || !subject || subject.length > MAX_SUBJECT) {
    throw new SifuError('SIFU_ERR_BAD_REQUEST', 'The learning platform did not say who you are.', {
      logDetail: `identity without issuer or with a subject of ${subject.length} characters`,
    });
  }
  const linked = await store.getIdentity(issuer, subject);
  if (linked) return linked.userName;

  if (naming.adoptHashName) {
    const adopted = await store.linkExistingUser(issuer, subject, hashName(naming.prefix, issuer, subject));
    if (adopted) {
      await store.addEvent('identity.link', adopted.userName, { issuer, via: naming.via, existing: true });
      return adopted.userName;
    }
  }

  const random = Array.from(
    { length: RANDOM_TRIES },
    () => `${naming.prefix}-${randomBytes(10).toString('hex')}`,
  );
  for (const name of [...nameCandidates(identity, naming.prefix), ...random]) {
    const result = await store.createLinkedUser(issuer, subject, name);
    if (!result) continue;
    if (result.created) {
      const wished = usableName(identity.claimedName);
      await store.addEvent('identity.link', name, {
        issuer,
        via: naming.via,
        ...(wished && wished !== name ? { wished } : {}),
      });
    }
    return result.identity.userName;
  }
  throw new SifuError('SIFU_ERR_INTERNAL', 'Sifu could not make a user for you. Please try again.', {
    logDetail: `every candidate name for an identity of ${issuer} is taken`,
  });
}
