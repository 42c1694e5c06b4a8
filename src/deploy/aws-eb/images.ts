import type { DeployImages } from './settings.js';

/** A registry login from ECR's GetAuthorizationToken: valid for a while (12 h), so fetched at every run. */
export interface RegistryLogin {
  /** `https://<account>.dkr.ecr.<region>.amazonaws.com` */
  endpoint: string;
  username: string;
  password: string;
  expiresAt?: Date;
}

/** The ECR repositories' URIs (`<account>.dkr.ecr.<region>.amazonaws.com/<name>`). */
export interface DeployRepositories {
  sifu: string;
  notebook: string;
}

/**
 * Builds Sifu's and the notebook image when their content hash changed, and pushes them.
 */
export interface ImagePublisher {
  /**
   * Builds what is out of date and pushes it to `repositories` with `login`; resolves to the image
   * references the bundle runs (the same references when nothing changed, so a second run changes nothing).
   * A login the registry refuses (expired) must reject with `RegistryLoginExpiredError` (or an error whose
   * message says 401/unauthorized): the caller then fetches a fresh login and calls again, once.
   */
  publish(login: RegistryLogin, repositories: DeployRepositories): Promise<DeployImages>;
}

/** The registry refused the login (expired or revoked): get a fresh token and try again. */
export class RegistryLoginExpiredError extends Error {
  override name = 'RegistryLoginExpiredError';
}

export function isRegistryAuthError(err: unknown): boolean {
  if (err instanceof RegistryLoginExpiredError) return true;
  const message = err instanceof Error ? err.message : String(err);
  return /\b401\b|unauthorized|authentication required|no basic auth credentials|authorization token has expired/i.test(
    message,
  );
}
