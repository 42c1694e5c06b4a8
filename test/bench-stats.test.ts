import assert from 'node:assert/strict';
import { test } from 'node:test';
import { median, percentile } from '../bench/support/stats.js';

test('percentile is nearest-rank: always a sample, the smallest with p% at or below it', () => {
  const hundred = Array.from({ length: 100 }, (_, i) => 100 - i);
  const cases: [number[], number, number][] = [
    [[4, 1, 3, 2], 50, 2],
    [[4, 1, 3, 2], 75, 3],
    [[4, 1, 3, 2], 100, 4],
    [[5, 1, 4, 2, 3], 50, 3],
    [[7], 99, 7],
    [[3, 1, 2], 1, 1],
    [hundred, 99, 99],
    [hundred, 95, 95],
    [hundred, 50, 50],
  ];
  for (const [samples, p, expected] of cases) {
    assert.equal(percentile(samples, p), expected, `p${p} of ${samples.length} samples`);
  }
  assert.ok(Number.isNaN(percentile([], 50)));
});

test('percentile and median leave their input as it was', () => {
  const samples = [3, 1, 2];
  percentile(samples, 50);
  median(samples);
  assert.deepEqual(samples, [3, 1, 2]);
});

test('median is the middle value, or the mean of the two middle values', () => {
  assert.equal(median([5, 1, 3]), 3);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
});
