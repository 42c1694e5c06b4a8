/**
 * Course and unit ids (Open edX `course-v1:Org+Course+Run`, `block-v1:...`, LTI context ids) and the
 * directory names learners' copies live under. A raw id never becomes a path: the directory is a
 * readable slug of the id plus 8 hex digits of its SHA-256, e.g.
 * `course-v1:Org+CS101+2025` -> `Org_CS101_2025-6c0f0a3b`. The slug keeps it recognisable in Jupyter's
 * file list; the digest keeps two ids whose slugs collide apart. The mapping is one-way; the store keeps
 * the ids (and `sifu course list` shows both).
 */
import { createHash } from 'node:crypto';
import { SifuError } from '../errors.js';

/** Open edX keys and typical LTI ids: printable ASCII without `/`, `\`, `?`, `#`, `%` or spaces. */
export const COURSE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9:+._@~=-]{0,254}$/;

export function validateCourseId(raw: unknown): string {
  if (typeof raw !== 'string' || !COURSE_ID_PATTERN.test(raw)) {
    throw new SifuError(
      'SIFU_ERR_BAD_REQUEST',
      'course ids are 1 to 255 characters: letters, digits and ":+._@~=-", starting with a letter or digit',
    );
  }
  return raw;
}

/** A unit id, or '' for a notebook attached to the whole course. */
export function validateUnitId(raw: unknown): string {
  if (raw === undefined || raw === null || raw === '') return '';
  if (typeof raw !== 'string' || !COURSE_ID_PATTERN.test(raw)) {
    throw new SifuError(
      'SIFU_ERR_BAD_REQUEST',
      'unit ids are 1 to 255 characters: letters, digits and ":+._@~=-", starting with a letter or digit',
    );
  }
  return raw;
}

/** The directory (inside each learner's home) holding the course's notebooks. Pure and stable. */
export function courseDirName(courseId: string): string {
  const digest = createHash('sha256').update(courseId).digest('hex').slice(0, 8);
  const slug = courseId
    .replace(/^course-v1:/, '')
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .replace(/^[^A-Za-z0-9]+/, '')
    .replace(/\.\.+/g, '.')
    .slice(0, 48)
    .replace(/[^A-Za-z0-9]+$/, '');
  return slug ? `${slug}-${digest}` : `course-${digest}`;
}

/** The learner copy's path relative to the home: `<course dir>/<notebook name>`. */
export function learnerCopyPath(courseId: string, notebookName: string): string {
  return `${courseDirName(courseId)}/${notebookName}`;
}
