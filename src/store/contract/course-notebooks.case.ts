/** Store contract cases for base notebooks attached to courses (`CourseNotebookStore`). Part of `storeContract`. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CourseNotebookRecord } from '../store.js';
import { at } from './fixtures.case.js';
import type { ContractContext } from './harness.case.js';

function notebook(overrides: Partial<CourseNotebookRecord> = {}): CourseNotebookRecord {
  return {
    courseId: 'course-v1:Org+CS101+2025',
    name: 'intro.ipynb',
    unitId: 'block-v1:Org+CS101+2025+type@notebook+block@u1',
    source: { kind: 'upload' },
    sha256: 'a'.repeat(64),
    size: 12,
    updatedAt: new Date('2025-01-02T03:04:05.006Z'),
    updatedBy: 'staff',
    ...overrides,
  };
}

export function courseNotebookCases(ctx: ContractContext): void {
  describe('course notebooks', () => {
    test('put then get returns the record and the content; list is by course then name', async () => {
      const store = ctx.store();
      const first = notebook();
      assert.equal(await store.putCourseNotebook(first, '{"nbformat":4}'), true);
      const git = notebook({
        courseId: 'course-v1:Org+AI+2025',
        name: 'b.ipynb',
        unitId: '',
        source: { kind: 'git', repo: 'https://git.example.org/r.git', path: 'nb/b.ipynb', ref: 'main' },
      });
      assert.equal(await store.putCourseNotebook(git, '{}'), true);
      assert.deepEqual(await store.getCourseNotebook(first.courseId, first.name), first);
      assert.equal(await store.getCourseNotebookContent(first.courseId, first.name), '{"nbformat":4}');
      assert.deepEqual(
        (await store.listCourseNotebooks()).map((n) => [n.courseId, n.name]),
        [
          ['course-v1:Org+AI+2025', 'b.ipynb'],
          ['course-v1:Org+CS101+2025', 'intro.ipynb'],
        ],
      );
      assert.deepEqual(await store.listCourseNotebooks('course-v1:Org+AI+2025'), [git]);
      assert.equal(await store.getCourseNotebook('nope', 'intro.ipynb'), null);
      assert.equal(await store.getCourseNotebookContent('nope', 'intro.ipynb'), null);
    });

    test('put again from the same unit replaces it; from another unit is refused and changes nothing', async () => {
      const store = ctx.store();
      await store.putCourseNotebook(notebook(), 'v1');
      const replaced = notebook({
        sha256: 'b'.repeat(64),
        size: 2,
        updatedAt: at('2025-02-01T00:00:00.000Z'),
      });
      assert.equal(await store.putCourseNotebook(replaced, 'v2'), true);
      assert.equal(await store.putCourseNotebook(notebook({ unitId: 'other-unit' }), 'v3'), false);
      assert.deepEqual(await store.getCourseNotebook(replaced.courseId, replaced.name), replaced);
      assert.equal(await store.getCourseNotebookContent(replaced.courseId, replaced.name), 'v2');
    });

    test('delete detaches one notebook and reports whether it did', async () => {
      const store = ctx.store();
      await store.putCourseNotebook(notebook(), 'v1');
      await store.putCourseNotebook(notebook({ name: 'two.ipynb' }), 'v2');
      assert.equal(await store.deleteCourseNotebook('course-v1:Org+CS101+2025', 'intro.ipynb'), true);
      assert.equal(await store.deleteCourseNotebook('course-v1:Org+CS101+2025', 'intro.ipynb'), false);
      assert.deepEqual(
        (await store.listCourseNotebooks()).map((n) => n.name),
        ['two.ipynb'],
      );
    });
  });
}
