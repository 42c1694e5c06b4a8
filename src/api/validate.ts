import type { z } from 'zod';
import { formatIssues } from '../config/load.js';
import { SifuError } from '../errors.js';

/** Parses a request body against a schema; SIFU_ERR_BAD_REQUEST naming the field otherwise. */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  const parsed = schema.safeParse(body === null ? undefined : body);
  if (!parsed.success) {
    throw new SifuError(
      'SIFU_ERR_BAD_REQUEST',
      `invalid request body: ${formatIssues(parsed.error.issues, () => '')}`,
    );
  }
  return parsed.data;
}
