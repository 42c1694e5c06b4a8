import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { isSifuError, SifuError } from '../errors.js';
import { waitUntilReady } from './ready.js';
import type { PollResult, ProgressEvent } from './spawner.js';

const running = async (): Promise<PollResult> => ({ status: 'running' });

/** A loopback HTTP server answering every request with the status `handler` picks. */
async function listen(handler: (req: IncomingMessage) => number): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    res.statusCode = handler(req);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}` };
}

function assertSifuError(code: string, check?: (err: SifuError) => void): (err: unknown) => boolean {
  return (err) => {
    assert.ok(isSifuError(err), `expected a SifuError, got ${String(err)}`);
    assert.equal(err.code, code);
    check?.(err);
    return true;
  };
}

describe('waitUntilReady', () => {
  let requests: Array<{ url: string | undefined; authorization: string | undefined }> = [];
  let notReadyAnswers = 0;
  let url = '';
  let server: Server | undefined;

  before(async () => {
    ({ server, url } = await listen((req) => {
      requests.push({ url: req.url, authorization: req.headers.authorization });
      if (notReadyAnswers > 0) {
        notReadyAnswers -= 1;
        return 503;
      }
      return req.url === '/user/ada/api' && req.headers.authorization === 'token s3cret' ? 200 : 403;
    }));
  });
  after(() => server?.close());

  const base = () => ({ url, baseUrl: '/user/ada/', secret: 's3cret', poll: running });

  it('resolves once GET <baseUrl>api with the secret answers 200, retrying until then', async () => {
    requests = [];
    notReadyAnswers = 3;
    const events: ProgressEvent[] = [];
    const result = await waitUntilReady({ ...base(), timeoutMs: 10_000, progress: (e) => events.push(e) });
    assert.equal(result.attempts, 4);
    assert.equal(requests.length, 4);
    assert.deepEqual(requests.at(-1), { url: '/user/ada/api', authorization: 'token s3cret' });
    assert.equal(events.at(-1)?.progress, 100);
    const values = events.map((e) => e.progress);
    assert.deepEqual(
      values,
      [...values].sort((a, b) => a - b),
      'progress never decreases',
    );
  });

  it('times out with SIFU_ERR_SPAWN_TIMEOUT when only a wrong secret would do', async () => {
    notReadyAnswers = 0;
    await assert.rejects(
      waitUntilReady({ ...base(), secret: 'wrong', timeoutMs: 300 }),
      assertSifuError('SIFU_ERR_SPAWN_TIMEOUT', (err) => {
        assert.match(err.logDetail ?? '', /answered 403/);
        assert.doesNotMatch(err.message, /wrong|127\.0\.0\.1/);
      }),
    );
  });

  it('times out when nothing listens, saying why in logDetail', async () => {
    const closed = await listen(() => 200);
    await new Promise((resolve) => closed.server.close(resolve));
    await assert.rejects(
      waitUntilReady({ ...base(), url: closed.url, timeoutMs: 300 }),
      assertSifuError('SIFU_ERR_SPAWN_TIMEOUT', (err) => assert.match(err.logDetail ?? '', /ECONNREFUSED/)),
    );
  });

  it('fails with SIFU_ERR_SPAWN_CRASHED as soon as poll reports the server stopped', async () => {
    notReadyAnswers = Number.POSITIVE_INFINITY;
    let polls = 0;
    const poll = async (): Promise<PollResult> => {
      polls += 1;
      return polls < 2
        ? { status: 'running' }
        : { status: 'stopped', reason: 'exited with code 3', exitCode: 3 };
    };
    await assert.rejects(
      waitUntilReady({ ...base(), poll, pollIntervalMs: 10, timeoutMs: 60_000 }),
      assertSifuError('SIFU_ERR_SPAWN_CRASHED', (err) => {
        assert.match(err.logDetail ?? '', /exited with code 3/);
        assert.doesNotMatch(err.message, /code 3/);
      }),
    );
    assert.equal(polls, 2);
  });

  it('reports a crash rather than a timeout when the server died by the deadline', async () => {
    notReadyAnswers = Number.POSITIVE_INFINITY;
    const poll = async (): Promise<PollResult> => ({ status: 'stopped', reason: 'killed by SIGKILL' });
    await assert.rejects(
      waitUntilReady({ ...base(), poll, pollIntervalMs: 60_000, timeoutMs: 100 }),
      assertSifuError('SIFU_ERR_SPAWN_CRASHED'),
    );
  });

  it('keeps waiting when poll cannot tell, and names that in the timeout', async () => {
    notReadyAnswers = Number.POSITIVE_INFINITY;
    const poll = async (): Promise<PollResult> => {
      throw new Error('engine unreachable');
    };
    await assert.rejects(
      waitUntilReady({ ...base(), poll, pollIntervalMs: 10, timeoutMs: 300 }),
      assertSifuError('SIFU_ERR_SPAWN_TIMEOUT', (err) =>
        assert.match(err.logDetail ?? '', /engine unreachable/),
      ),
    );
  });

  it('rejects with the abort reason when the signal aborts', async () => {
    notReadyAnswers = Number.POSITIVE_INFINITY;
    const controller = new AbortController();
    const reason = new SifuError('SIFU_ERR_SPAWN_FAILED', 'cancelled by the learner');
    setTimeout(() => controller.abort(reason), 50);
    await assert.rejects(
      waitUntilReady({ ...base(), timeoutMs: 60_000, signal: controller.signal }),
      (err) => {
        assert.equal(err, reason);
        return true;
      },
    );
  });

  it('wraps a non-Sifu abort reason as SIFU_ERR_SPAWN_FAILED', async () => {
    await assert.rejects(
      waitUntilReady({ ...base(), timeoutMs: 60_000, signal: AbortSignal.abort('shutdown') }),
      assertSifuError('SIFU_ERR_SPAWN_FAILED', (err) => assert.match(err.logDetail ?? '', /shutdown/)),
    );
  });
});

describe('waitUntilReady on a unix socket', () => {
  it('asks the server at its socket, with the secret', async () => {
    const { mkdtemp, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'sifu-ready-'));
    const seen: Array<string | undefined> = [];
    const server = createServer((req, res) => {
      seen.push(`${req.url} ${req.headers.authorization} ${req.headers.host}`);
      res.statusCode = 200;
      res.end();
    });
    const path = join(dir, 'jupyter.sock');
    await new Promise<void>((resolve) => server.listen(path, resolve));
    try {
      await waitUntilReady({
        url: `unix:${path}`,
        baseUrl: '/user/ada/',
        secret: 's3cret',
        timeoutMs: 5_000,
        poll: running,
      });
      assert.deepEqual(seen, ['/user/ada/api token s3cret localhost']);
    } finally {
      server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
