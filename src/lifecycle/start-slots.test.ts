import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StartSlots } from './start-slots.js';

describe('start slots (the burst queue)', () => {
  it('runs at most `limit` at once; the rest wait in order, told how many are ahead', async () => {
    const slots = new StartSlots(2);
    const signal = new AbortController().signal;
    const told: Record<number, number[]> = {};
    const order: number[] = [];
    const releases = await Promise.all([0, 1].map(() => slots.acquire(signal, () => {})));
    const waiting = [2, 3, 4].map((i) =>
      slots
        .acquire(signal, (ahead) => {
          told[i] = [...(told[i] ?? []), ahead];
        })
        .then((release) => {
          order.push(i);
          return release;
        }),
    );
    assert.equal(slots.queued, 3);
    assert.deepEqual(told, { 2: [1], 3: [2], 4: [3] });
    releases[0]?.();
    const third = await waiting[0];
    assert.deepEqual(told[3], [2, 1]);
    assert.deepEqual(told[4], [3, 2]);
    releases[1]?.();
    third?.();
    third?.(); // releasing twice frees one slot only
    const [, fourth, fifth] = await Promise.all(waiting);
    assert.deepEqual(order, [2, 3, 4]);
    fourth?.();
    fifth?.();
    assert.equal(slots.queued, 0);
  });

  it('drops a waiting start whose signal aborts, with its reason', async () => {
    const slots = new StartSlots(1);
    const release = await slots.acquire(new AbortController().signal, () => {});
    const abort = new AbortController();
    const waiting = slots.acquire(abort.signal, () => {});
    abort.abort(new Error('timed out'));
    await assert.rejects(waiting, /cancelled/);
    assert.equal(slots.queued, 0);
    release();
  });

  it('tells who holds a slot and who waits, in line order', async () => {
    const slots = new StartSlots(1);
    const signal = new AbortController().signal;
    assert.deepEqual(slots.status(), { limit: 1, running: 0, waiting: [] });
    const first = await slots.acquire(signal, () => {}, 'ada');
    const second = slots.acquire(signal, () => {}, 'bob');
    const third = slots.acquire(signal, () => {}, 'cy');
    assert.deepEqual(slots.status(), { limit: 1, running: 1, waiting: ['bob', 'cy'] });
    first();
    (await second)();
    (await third)();
    assert.deepEqual(slots.status(), { limit: 1, running: 0, waiting: [] });
  });
});
