import { SifuError } from './errors.js';

/**
 * A user name is part of URLs (`/user/<name>/`), directory names and container names, so it is held to a
 * small alphabet. Platform names (edX usernames are case-insensitive) are lower-cased first, and only ASCII
 * ones: Unicode lower-casing folds other characters into ASCII (KELVIN SIGN U+212A becomes `k`), which
 * would let `\u212Aate` stand for `kate`.
 */
export const USERNAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** Returns the normalised name, or throws SIFU_ERR_INVALID_USERNAME (the input is never echoed raw). */
export function normalizeUsername(raw: unknown): string {
  if (typeof raw !== 'string') {
    throw new SifuError('SIFU_ERR_INVALID_USERNAME', 'a user name is required');
  }
  // ASCII is checked before any folding; after it, lower-casing maps A-Z and nothing else.
  const name = /^\p{ASCII}*$/u.test(raw) ? raw.trim().toLowerCase() : '';
  if (!USERNAME_PATTERN.test(name) || name.includes('..')) {
    throw new SifuError(
      'SIFU_ERR_INVALID_USERNAME',
      'user names are 1 to 64 characters: letters, digits, ".", "_" or "-", starting with a letter or digit',
    );
  }
  return name;
}

export function isValidUsername(name: string): boolean {
  return USERNAME_PATTERN.test(name) && !name.includes('..');
}

/**
 * A group name (JupyterHub's groups, e.g. nbgrader's `nbgrader-<course>`; edX course ids such as
 * `course-v1:Org+C1+2024`): 1 to 255 characters of letters, digits and `. _ - : + @`, starting with a
 * letter or digit. Case is kept. It appears in API paths and scope filters, never in file names.
 */
export const GROUP_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:+@-]{0,254}$/;

/** Returns the name, or throws SIFU_ERR_INVALID_GROUP_NAME (the input is never echoed raw). */
export function normalizeGroupName(raw: unknown): string {
  if (typeof raw !== 'string' || !GROUP_NAME_PATTERN.test(raw)) {
    throw new SifuError(
      'SIFU_ERR_INVALID_GROUP_NAME',
      'group names are 1 to 255 characters: letters, digits, ".", "_", "-", ":", "+" or "@", starting with a letter or digit',
    );
  }
  return raw;
}
