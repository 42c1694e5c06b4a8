/**
 * Adapts `CourseNotebooks` to what the launch API and LTI need (`LaunchCourses` in src/api/context.ts):
 * a launch names a course and unit, and optionally the notebook; without one, the unit's first notebook
 * (by name; a course-wide notebook when the unit has none of its own) is opened.
 */
import type { LaunchCourses } from '../api/context.js';
import { isSifuError, SifuError } from '../errors.js';
import type { CourseNotebookRecord } from '../store/store.js';
import type { CourseNotebooks } from './course-notebooks.js';

function unitNotFound(): SifuError {
  return new SifuError('SIFU_ERR_COURSE_UNIT_NOT_FOUND', 'this course unit has no notebook attached');
}

export function launchCourses(courses: CourseNotebooks): LaunchCourses {
  async function pick(
    courseId: string,
    unitId: string,
    notebook: string | null,
  ): Promise<CourseNotebookRecord | null> {
    if (notebook !== null) {
      try {
        const record = await courses.get(courseId, notebook);
        return record.unitId === '' || record.unitId === unitId ? record : null;
      } catch (err) {
        if (isSifuError(err) && err.code === 'SIFU_ERR_NOTEBOOK_NOT_FOUND') return null;
        throw err;
      }
    }
    const list = await courses.list(courseId);
    return list.find((n) => n.unitId === unitId) ?? list.find((n) => n.unitId === '') ?? null;
  }

  return {
    async checkUnit(courseId, unitId, notebook) {
      if (!(await pick(courseId, unitId, notebook))) throw unitNotFound();
    },
    async ensureLearnerCopy(userName, courseId, unitId, notebook) {
      const record = await pick(courseId, unitId, notebook);
      if (!record) return null;
      return (await courses.ensureLearnerCopy(userName, courseId, record.unitId || null, record.name)).path;
    },
  };
}
