/** The `course_notebooks` table: base notebooks; only `getCourseNotebookContent` reads their content. */
import type { Kysely } from 'kysely';
import { courseNotebookColumns, courseNotebookFromRow, courseNotebookToRow } from '../storage-rows.js';
import type { CourseNotebookRecord, CourseNotebookStore } from '../store.js';
import type { Tables } from '../tables.js';

export class KyselyCourseNotebooks implements CourseNotebookStore {
  readonly #db: Kysely<Tables>;

  constructor(db: Kysely<Tables>) {
    this.#db = db;
  }

  async putCourseNotebook(record: CourseNotebookRecord, content: string): Promise<boolean> {
    const row = courseNotebookToRow(record, content);
    // One statement: the replace happens only while the name still belongs to the same unit.
    const result = await this.#db
      .insertInto('course_notebooks')
      .values(row)
      .onConflict((oc) =>
        oc
          .columns(['course_id', 'name'])
          .doUpdateSet({
            source: row.source,
            content: row.content,
            sha256: row.sha256,
            size: row.size,
            updated_at: row.updated_at,
            updated_by: row.updated_by,
          })
          .where('course_notebooks.unit_id', '=', row.unit_id),
      )
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
  }

  async getCourseNotebook(courseId: string, name: string): Promise<CourseNotebookRecord | null> {
    const row = await this.#db
      .selectFrom('course_notebooks')
      .select(courseNotebookColumns)
      .where('course_id', '=', courseId)
      .where('name', '=', name)
      .executeTakeFirst();
    return row ? courseNotebookFromRow(row) : null;
  }

  async getCourseNotebookContent(courseId: string, name: string): Promise<string | null> {
    const row = await this.#db
      .selectFrom('course_notebooks')
      .select('content')
      .where('course_id', '=', courseId)
      .where('name', '=', name)
      .executeTakeFirst();
    return row ? row.content : null;
  }

  async listCourseNotebooks(courseId?: string): Promise<CourseNotebookRecord[]> {
    let query = this.#db
      .selectFrom('course_notebooks')
      .select(courseNotebookColumns)
      .orderBy('course_id')
      .orderBy('name');
    if (courseId !== undefined) query = query.where('course_id', '=', courseId);
    return (await query.execute()).map(courseNotebookFromRow);
  }

  async deleteCourseNotebook(courseId: string, name: string): Promise<boolean> {
    const result = await this.#db
      .deleteFrom('course_notebooks')
      .where('course_id', '=', courseId)
      .where('name', '=', name)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }
}
