/**
 * Adapts `CourseNotebooks` to what the launch API and LTI need (`LaunchCourses` below):
 * a launch names a course and unit, and optionally the notebook; without one, the unit's first notebook
 * (by name; a course-wide notebook when the unit has none of its own) is opened.
 */
import { isSifuError, SifuError } from '../errors.js';
import type { CourseNotebookRecord } from '../store/store.js';
import type { CourseNotebooks } from './course-notebooks.js';

/** What a launch needs from course storage (the courses service implements it). */
export interface LaunchCourses {
  /** Throws SifuError SIFU_ERR_COURSE_UNIT_NOT_FOUND when the unit (or its named notebook) is unknown. */
  checkUnit(courseId: string, unitId: string, notebook: string | null): Promise<void>;
  /**
   * Makes the learner's copy of the unit's notebook if it is missing (never overwrites one); returns its
   * path relative to the learner's home, e.g. `course-x/intro.ipynb`, or null when there is none.
   */
  ensureLearnerCopy(
    userName: string,
    courseId: string,
    unitId: string,
    notebook: string | null,
  ): Promise<string | null>;
}

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
