/**
 * Row <-> record conversions for the tables of migration 0002_storage (course notebooks, leases), kept
 * apart from `rows.ts` so the two areas change independently. Pure functions, no I/O.
 */
import type { Selectable } from 'kysely';
import { fromDbTime, toDbJson, toDbTime } from './rows.js';
import type { CourseNotebookRecord, CourseNotebookSource, LeaseRecord } from './store.js';
import type { CourseNotebooksTable, LeasesTable } from './tables.js';

export const courseNotebookColumns = [
  'course_id',
  'name',
  'unit_id',
  'source',
  'sha256',
  'size',
  'updated_at',
  'updated_by',
] as const;

function sourceFromText(text: string): CourseNotebookSource {
  const value = JSON.parse(text) as Partial<{ kind: string; repo: string; path: string; ref: string | null }>;
  if (value.kind === 'git' && typeof value.repo === 'string' && typeof value.path === 'string') {
    return { kind: 'git', repo: value.repo, path: value.path, ref: value.ref ?? null };
  }
  return { kind: 'upload' };
}

export function courseNotebookFromRow(
  row: Omit<Selectable<CourseNotebooksTable>, 'content'>,
): CourseNotebookRecord {
  return {
    courseId: row.course_id,
    name: row.name,
    unitId: row.unit_id,
    source: sourceFromText(row.source),
    sha256: row.sha256,
    size: Number(row.size),
    updatedAt: fromDbTime(row.updated_at),
    updatedBy: row.updated_by,
  };
}

export function courseNotebookToRow(
  record: CourseNotebookRecord,
  content: string,
): Selectable<CourseNotebooksTable> {
  return {
    course_id: record.courseId,
    name: record.name,
    unit_id: record.unitId,
    source: toDbJson(record.source),
    content,
    sha256: record.sha256,
    size: record.size,
    updated_at: toDbTime(record.updatedAt),
    updated_by: record.updatedBy,
  };
}

export function leaseFromRow(row: Selectable<LeasesTable>): LeaseRecord {
  return {
    userName: row.user_name,
    holder: row.holder,
    acquiredAt: fromDbTime(row.acquired_at),
    expiresAt: fromDbTime(row.expires_at),
  };
}
