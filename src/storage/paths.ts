/**
 * Pure validation of the names and relative paths that reach the file system. Nothing here touches the
 * disk: `homes.ts` re-checks every component on disk (symlinks, file types) before using it.
 */
import { SifuError } from '../errors.js';

/** Longest relative path accepted, in characters (PATH_MAX is 4096 bytes; keep far below it). */
export const MAX_PATH_CHARS = 1024;
/** NAME_MAX on Linux file systems, in bytes. */
export const MAX_COMPONENT_BYTES = 255;

/** NUL, other C0 control characters and DEL: never part of a name Sifu writes. */
const hasControlCharacter = (text: string): boolean =>
  [...text].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f);

function invalid(message: string): SifuError {
  return new SifuError('SIFU_ERR_INVALID_PATH', message);
}

/**
 * Splits a path relative to a home into its components, refusing anything that could leave the home or
 * confuse a tool: absolute paths, `.` and `..`, empty components, backslashes, NUL and control
 * characters, over-long names. The path is never echoed back (it may be hostile or huge).
 */
export function relativePathComponents(raw: unknown): string[] {
  if (typeof raw !== 'string' || raw.length === 0) throw invalid('a relative path is required');
  if (raw.length > MAX_PATH_CHARS) throw invalid(`paths are at most ${MAX_PATH_CHARS} characters`);
  if (hasControlCharacter(raw)) throw invalid('paths may not contain NUL or control characters');
  if (raw.includes('\\')) throw invalid('paths use "/" only');
  if (raw.startsWith('/') || /^[a-zA-Z]:/.test(raw)) throw invalid('paths must be relative to the home');
  const components = raw.split('/');
  for (const component of components) {
    if (component === '' || component === '.' || component === '..') {
      throw invalid('paths may not contain empty, "." or ".." components');
    }
    if (Buffer.byteLength(component) > MAX_COMPONENT_BYTES) {
      throw invalid(`each path component is at most ${MAX_COMPONENT_BYTES} bytes`);
    }
  }
  return components;
}

/** A notebook file name: one component, ASCII, `.ipynb`, not hidden. E.g. `Week 1 (intro).ipynb`. */
export const NOTEBOOK_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9 _.()+,-]{0,122}\.ipynb$/;

export function validateNotebookName(raw: unknown): string {
  if (typeof raw !== 'string' || !NOTEBOOK_NAME_PATTERN.test(raw) || raw.includes('..')) {
    throw invalid(
      'notebook names are 1 to 128 characters: letters, digits, space, "_", ".", "(", ")", "+", "," or "-", starting with a letter or digit, ending in .ipynb',
    );
  }
  return raw;
}
