/**
 * Store contract cases for course notebooks and leases (migration 0002_storage). Part of `storeContract`
 * (which calls `storageContractCases` inside its suite), kept in its own file so each area stays small.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CourseNotebookRecord, Store } from './store.js';

export interface StorageContractContext {
  store(): Store;
  withSecondHandle(body: (other: Store) => Promise<void>): Promise<void>;
  secondHandleSkip: string | false;
}

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

const at = (iso: string) => new Date(iso);

export function storageContractCases(ctx: StorageContractContext): void {
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

  describe('leases', () => {
    const now = at('2025-01-01T00:00:00.000Z');
    const later = at('2025-01-01T00:05:00.000Z');

    test('acquire an absent lease; another holder is refused while it lasts', async () => {
      const store = ctx.store();
      assert.equal(await store.acquireLease('ada', 'server-a', now, later), true);
      assert.equal(await store.acquireLease('ada', 'server-b', now, later), false);
      assert.deepEqual(await store.getLease('ada'), {
        userName: 'ada',
        holder: 'server-a',
        acquiredAt: now,
        expiresAt: later,
      });
      // Leases are per home: bob's is independent.
      assert.equal(await store.acquireLease('bob', 'server-b', now, later), true);
      assert.equal(await store.getLease('carol'), null);
    });

    test('the holder re-acquires (extends) its own lease, keeping acquiredAt', async () => {
      const store = ctx.store();
      await store.acquireLease('ada', 'server-a', now, later);
      const muchLater = at('2025-01-01T01:00:00.000Z');
      assert.equal(await store.acquireLease('ada', 'server-a', later, muchLater), true);
      assert.deepEqual(await store.getLease('ada'), {
        userName: 'ada',
        holder: 'server-a',
        acquiredAt: now,
        expiresAt: muchLater,
      });
    });

    test('an expired lease is taken over by the next holder', async () => {
      const store = ctx.store();
      await store.acquireLease('ada', 'crashed', now, later);
      assert.equal(await store.acquireLease('ada', 'server-b', later, at('2025-01-01T00:10:00.000Z')), true);
      assert.equal((await store.getLease('ada'))?.holder, 'server-b');
      assert.equal((await store.getLease('ada'))?.acquiredAt.getTime(), later.getTime());
      // The old holder can no longer renew or release it.
      assert.equal(await store.renewLease('ada', 'crashed', at('2030-01-01T00:00:00.000Z')), false);
      assert.equal(await store.releaseLease('ada', 'crashed'), false);
      assert.equal((await store.getLease('ada'))?.holder, 'server-b');
    });

    test('renew extends only for the holder; release frees it only for the holder', async () => {
      const store = ctx.store();
      await store.acquireLease('ada', 'server-a', now, later);
      const extended = at('2025-01-01T00:30:00.000Z');
      assert.equal(await store.renewLease('ada', 'server-a', extended), true);
      assert.deepEqual((await store.getLease('ada'))?.expiresAt, extended);
      assert.equal(await store.renewLease('ada', 'server-b', at('2031-01-01T00:00:00.000Z')), false);
      assert.equal(await store.releaseLease('ada', 'server-b'), false);
      assert.equal(await store.releaseLease('ada', 'server-a'), true);
      assert.equal(await store.getLease('ada'), null);
      assert.equal(await store.renewLease('ada', 'server-a', extended), false);
      assert.equal(await store.acquireLease('ada', 'server-b', now, later), true);
    });

    test('many concurrent acquires for one home: exactly one wins', async () => {
      const store = ctx.store();
      const results = await Promise.all(
        Array.from({ length: 25 }, (_, i) => store.acquireLease('ada', `holder-${i}`, now, later)),
      );
      assert.equal(results.filter(Boolean).length, 1);
      assert.equal((await store.getLease('ada'))?.holder, `holder-${results.indexOf(true)}`);
    });

    test('concurrent takeovers of an expired lease from two handles: exactly one wins', {
      skip: ctx.secondHandleSkip,
    }, async () => {
      const store = ctx.store();
      await store.acquireLease('ada', 'crashed', now, later);
      await ctx.withSecondHandle(async (other) => {
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            (i % 2 === 0 ? store : other).acquireLease(
              'ada',
              `holder-${i}`,
              later,
              at('2025-01-01T00:10:00.000Z'),
            ),
          ),
        );
        assert.equal(results.filter(Boolean).length, 1);
        assert.equal((await other.getLease('ada'))?.holder, `holder-${results.indexOf(true)}`);
      });
    });
  });
}
