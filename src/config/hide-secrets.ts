import { type SifuConfig, walkLeaves } from './schema.js';

/** What `sifu config check` prints in place of a set secret. */
export const HIDDEN = '<hidden>';

/**
 * The configuration as `sifu config check` prints it: a JSON copy in which every option the schema marks
 * `secret` that has a value reads `<hidden>`. The schema is the only list of secrets, so an option marked
 * there is hidden here without anyone remembering to.
 */
export function hideSecrets(config: SifuConfig): Record<string, unknown> {
  const shown = JSON.parse(JSON.stringify(config)) as Record<string, unknown>;
  for (const { path, leaf } of walkLeaves()) {
    if (!leaf.secret) continue;
    let node: Record<string, unknown> | undefined = shown;
    for (const key of path.slice(0, -1)) node = node?.[key] as Record<string, unknown> | undefined;
    const key = path[path.length - 1] as string;
    if (node && node[key] !== undefined) node[key] = HIDDEN;
  }
  return shown;
}
