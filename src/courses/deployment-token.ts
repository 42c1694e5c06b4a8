/**
 * The deployment token for private git repositories, from (first found): `courses.deploymentToken`
 * (`SIFU_COURSES_DEPLOYMENT_TOKEN`), the 2016 variable `DEPLOYMENT_TOKEN`, or the file
 * `courses.deploymentTokenFile` (default `.deployment_token`, as the 2016 deploy scripts wrote it).
 * Read at each fetch, so a rotated file takes effect without a restart. Never logged.
 */
import { readFile } from 'node:fs/promises';
import { isErrno } from '../storage/homes.js';

export async function resolveDeploymentToken(
  courses: { deploymentToken?: string | undefined; deploymentTokenFile: string },
  env: NodeJS.ProcessEnv = process.env,
): Promise<string | undefined> {
  if (courses.deploymentToken) return courses.deploymentToken;
  if (env.DEPLOYMENT_TOKEN) return env.DEPLOYMENT_TOKEN;
  try {
    const text = (await readFile(courses.deploymentTokenFile, 'utf8')).trim();
    return text || undefined;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}
