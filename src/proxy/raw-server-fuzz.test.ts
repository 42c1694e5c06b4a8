/**
 * Differential fuzzing of the raw server side against Node's: requests mutated at random (bytes a
 * smuggler plays with, header lines that change framing) go to a proxy with the raw server on and to one
 * with it off. Both must answer with the same statuses, and their learner's servers must see the same
 * requests (method, target, headers): the raw side may serve a request only as Node's would have.
 * Seeded, so a failure replays; SIFU_FUZZ_CASES raises the count.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cookie, type Setup, sendRaw, setUp } from './doubles/harness.js';

const C = `Cookie: ${cookie('ada-session')}`;
const CASES = Number(process.env.SIFU_FUZZ_CASES ?? 150);

/** mulberry32: small, seeded, good enough to pick mutations. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const BASES = [
  `GET /user/ada/echo?q=1 HTTP/1.1\r\nHost: x\r\n${C}\r\nX-A: b\r\n\r\n`,
  `POST /user/ada/upload HTTP/1.1\r\nHost: x\r\n${C}\r\nContent-Length: 5\r\n\r\nhello`,
  `GET /user/ada/echo HTTP/1.0\r\n${C}\r\nConnection: keep-alive\r\n\r\n`,
  `DELETE /user/ada/echo HTTP/1.1\r\nHost: x\r\n${C}\r\nContent-Length: 0\r\n\r\n`,
];
// No `Expect: 100-continue`: with a request pipelined behind it, Node's own answers vary from run to run
// (two Node servers disagree); raw-server.test.ts hands it off deterministically.
/** After each mutated request: a plain one that ends the connection, if the first left it open. */
const TAIL = `GET /user/ada/echo?tail HTTP/1.1\r\nHost: x\r\n${C}\r\nConnection: close\r\n\r\n`;
const BYTES = [
  '\r',
  '\n',
  '\0',
  ' ',
  '\t',
  ':',
  ',',
  '\x7f',
  '\xe9',
  '\x0b',
  'a',
  'Z',
  '0',
  '9',
  '-',
  '"',
  '/',
  '%',
];
const LINES = [
  'Transfer-Encoding: chunked\r\n',
  'Transfer-Encoding: identity\r\n',
  'Content-Length: 3\r\n',
  'Content-Length: 05\r\n',
  'Upgrade: websocket\r\n',
  'Connection: close\r\n',
  'Connection: Upgrade\r\n',
  'Host: y\r\n',
  ' folded\r\n',
  'X-Sifu-Relay-Key: k\r\n',
];

function mutate(next: () => number): string {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)] as T;
  let text = pick(BASES);
  const operations = 1 + Math.floor(next() * 3);
  for (let i = 0; i < operations; i++) {
    const at = Math.floor(next() * text.length);
    switch (Math.floor(next() * 5)) {
      case 0:
        text = text.slice(0, at) + pick(BYTES) + text.slice(at);
        break;
      case 1:
        text = text.slice(0, at) + text.slice(at + 1);
        break;
      case 2:
        text = text.slice(0, at) + pick(BYTES) + text.slice(at + 1);
        break;
      default: {
        // A header line, at the start of a line of the head.
        const line = text.indexOf('\r\n', at);
        if (line !== -1 && line < text.indexOf('\r\n\r\n')) {
          text = text.slice(0, line + 2) + pick(LINES) + text.slice(line + 2);
        }
      }
    }
  }
  return text + TAIL;
}

/** The statuses of what came back, in order. */
const statuses = (answer: string) => [...answer.matchAll(/(?:^|\r\n)HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]);

describe('raw server: differential fuzzing against Node', () => {
  let raw: Setup;
  let nodeOnly: Setup;
  before(async () => {
    // Short bounds, so that a request waiting for a body that never comes ends soon.
    const bounds = { clientIdleTimeoutMs: 1_000, headersTimeoutMs: 500 };
    raw = await setUp({ ...bounds, rawServer: true });
    nodeOnly = await setUp({ ...bounds, rawServer: false });
  });
  after(async () => {
    await raw.close();
    await nodeOnly.close();
  });

  it(`${CASES} mutated requests: the same answers, the same requests upstream`, {
    timeout: 600_000,
  }, async () => {
    const next = random(13);
    const seen = (s: Setup, from: number) =>
      s.upstream.seen.slice(from).map(({ method, url, headers, upgrade }) => {
        const { host: _host, ...rest } = headers;
        return { method, url, upgrade, headers: rest };
      });
    // What reached Node's server side on the raw side's proxy: connections it was handed.
    let handedOff = 0;
    for (const event of [
      'request',
      'clientError',
      'upgrade',
      'checkContinue',
      'checkExpectation',
      'connect',
    ]) {
      raw.proxy.server.on(event, () => handedOff++);
    }
    let served = 0;
    for (let i = 0; i < CASES; i++) {
      const input = mutate(next);
      const [rawFrom, nodeFrom] = [raw.upstream.seen.length, nodeOnly.upstream.seen.length];
      const handedOffBefore = handedOff;
      const [rawAnswer, nodeAnswer] = await Promise.all([
        sendRaw(raw.port, input),
        sendRaw(nodeOnly.port, input),
      ]);
      const what = `case ${i}: ${JSON.stringify(input)}\nraw:  ${JSON.stringify(rawAnswer.slice(0, 400))}\nnode: ${JSON.stringify(nodeAnswer.slice(0, 400))}`;
      assert.deepEqual(statuses(rawAnswer), statuses(nodeAnswer), what);
      // Where the raw side served the connection alone, its server saw what Node's saw, or the start of
      // it: Node's server also forwards a request pipelined behind one whose answer closed the connection
      // (a 401 to an upload, say), the raw side reads nothing after such an answer. Where it handed the
      // connection to Node, both sides are Node's, whose forwarding of a request ahead of a refusal in the
      // same bytes is a race with the close: only the answers are compared.
      if (handedOff === handedOffBefore) {
        const [rawSeen, nodeSeen] = [seen(raw, rawFrom), seen(nodeOnly, nodeFrom)];
        assert.deepEqual(rawSeen, nodeSeen.slice(0, rawSeen.length), what);
        served++;
      }
    }
    // The mutations leave enough requests to the raw side for the comparison to mean something.
    assert.ok(served > CASES / 5, `the raw side served ${served} of ${CASES}`);
  });
});
