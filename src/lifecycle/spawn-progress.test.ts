import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSpawnProgress, readyProgress } from './spawn-progress.js';

test('progress never goes backwards, and late subscribers read what came before', () => {
  const progress = createSpawnProgress();
  const seen: number[] = [];
  progress.emit({ progress: 10, message: 'a' });
  const unsubscribe = progress.subscribe((e) => seen.push(e.progress));
  progress.emit({ progress: 50, message: 'b' });
  progress.emit({ progress: 30, message: 'c (late report)' });
  unsubscribe();
  progress.emit({ progress: 60, message: 'd' });
  assert.deepEqual(
    progress.events.map((e) => e.progress),
    [10, 50, 50, 60],
  );
  assert.deepEqual(seen, [50, 50]);
});

test('done settles only with the first event after an outcome', async () => {
  const progress = createSpawnProgress();
  let settled = false;
  void progress.done.then(() => {
    settled = true;
  });
  progress.emit({ progress: 90, message: 'almost' });
  await new Promise((r) => setImmediate(r));
  assert.equal(settled, false);
  progress.outcome = 'failed';
  progress.emit({ progress: 100, message: 'failed' });
  await progress.done;
  assert.equal(settled, true);
  assert.equal(readyProgress().outcome, 'ready');
});
