import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type EchoUpstream, startEchoUpstream } from './doubles/echo-upstream.js';
import {
  cookie,
  json,
  NOTEBOOK_ORIGIN,
  openWebSocket,
  roundTrip,
  type Setup,
  send,
  setUp,
} from './doubles/harness.js';

/** Servers on unix sockets (reachable only by Sifu): the proxy forwards HTTP and WebSockets to them. */
describe('notebook proxy: servers on unix sockets', () => {
  let s: Setup;
  let dir: string;
  let unix: EchoUpstream;
  before(async () => {
    s = await setUp();
    dir = await mkdtemp(join(tmpdir(), 'sifu-unix-'));
    unix = await startEchoUpstream({ socketPath: join(dir, 'jupyter.sock') });
    s.hooks.addRoute('ada', unix.origin, 'ada-unix-secret');
  });
  after(async () => {
    await s.close();
    await unix.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('forwards a request with the secret and a Host of localhost', async () => {
    const answer = await send(s.port, {
      path: '/user/ada/echo?x=1',
      headers: { cookie: cookie('ada-session') },
    });
    assert.equal(answer.status, 200);
    const seen = json(answer);
    assert.equal(seen.url, '/user/ada/echo?x=1');
    const headers = seen.headers as Record<string, string>;
    assert.equal(headers.authorization, 'token ada-unix-secret');
    assert.equal(headers.host, 'localhost');
  });

  it('relays a WebSocket', async () => {
    const outcome = await openWebSocket(s.port, '/user/ada/api/kernels/k/channels', {
      cookie: cookie('ada-session'),
      origin: NOTEBOOK_ORIGIN,
    });
    assert.ok('open' in outcome, JSON.stringify(outcome));
    assert.equal(await roundTrip(outcome.open, 'hello'), 'hello');
    outcome.open.close();
  });
});
