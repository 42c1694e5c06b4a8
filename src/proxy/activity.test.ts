import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { ActivityTracker, onlyPingPong, Throttle, WebSocketActivity } from './activity.js';

describe('Throttle', () => {
  it('lets a key through once per interval', () => {
    const throttle = new Throttle(1000);
    assert.equal(throttle.due('ada', 10_000), true);
    assert.equal(throttle.due('ada', 10_500), false);
    assert.equal(throttle.due('bob', 10_500), true);
    assert.equal(throttle.due('ada', 10_999), false);
    assert.equal(throttle.due('ada', 11_000), true);
    assert.equal(throttle.due('ada', 11_001), false);
  });
});

describe('ActivityTracker', () => {
  it('reports each route at most once per interval, and survives a failing hook', () => {
    const calls: string[] = [];
    const tracker = new ActivityTracker((user, server, at) => {
      calls.push(`${user}/${server}`);
      assert.ok(at instanceof Date);
      throw new Error('the store is down');
    }, 60_000);
    for (let i = 0; i < 100; i++) tracker.touch('ada', '');
    tracker.touch('ada', 'gpu');
    tracker.touch('bob', '');
    assert.deepEqual(calls, ['ada/', 'ada/gpu', 'bob/']);
  });
});

describe('onlyPingPong', () => {
  const table: [string, number[], boolean][] = [
    ['server ping, empty', [0x89, 0x00], true],
    ['server ping with payload', [0x89, 0x02, 0x61, 0x62], true],
    ['masked client pong', [0x8a, 0x82, 1, 2, 3, 4, 0x61, 0x62], true],
    ['ping then pong', [0x89, 0x00, 0x8a, 0x80, 1, 2, 3, 4], true],
    ['text frame', [0x81, 0x02, 0x68, 0x69], false],
    ['ping then text', [0x89, 0x00, 0x81, 0x01, 0x68], false],
    ['close frame', [0x88, 0x00], false],
    ['truncated ping', [0x89, 0x05, 0x61], false],
    ['ping without FIN', [0x09, 0x00], false],
    ['one byte', [0x89], false],
    ['empty', [], true],
  ];
  for (const [name, bytes, expected] of table) {
    it(`${name} -> ${expected}`, () => assert.equal(onlyPingPong(Buffer.from(bytes)), expected));
  }
});

describe('WebSocketActivity', () => {
  it("counts a chunk with data as the route's activity, pings and pongs alone not", () => {
    const calls: string[] = [];
    const [client, upstream] = [new EventEmitter(), new EventEmitter()];
    new WebSocketActivity(
      new ActivityTracker((user, server) => calls.push(`${user}/${server}`), 60_000),
      'ada',
      'gpu',
    ).watch([client, upstream]);
    client.emit('data', Buffer.from([0x89, 0x00]));
    upstream.emit('data', Buffer.from([0x8a, 0x80, 1, 2, 3, 4]));
    assert.deepEqual(calls, []);
    upstream.emit('data', Buffer.from([0x81, 0x02, 0x68, 0x69]));
    assert.deepEqual(calls, ['ada/gpu']);
    client.emit('close');
  });

  it('stops listening for the interval after a report, then listens again; for good at a close', async () => {
    const calls: number[] = [];
    const [client, upstream] = [new EventEmitter(), new EventEmitter()];
    new WebSocketActivity(new ActivityTracker(() => calls.push(Date.now()), 150), 'ada', '').watch([
      client,
      upstream,
    ]);
    const data = Buffer.from([0x81, 0x02, 0x68, 0x69]);
    client.emit('data', data);
    assert.equal(calls.length, 1);
    assert.deepEqual(
      [client.listenerCount('data'), upstream.listenerCount('data')],
      [0, 0],
      'off after a report',
    );
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(
      [client.listenerCount('data'), upstream.listenerCount('data')],
      [1, 1],
      'on again after it',
    );
    upstream.emit('data', data);
    assert.equal(calls.length, 2, 'the next chunk after the interval is reported');
    upstream.emit('close');
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual([client.listenerCount('data'), upstream.listenerCount('data')], [0, 0], 'off for good');
  });
});
