/**
 * The V8 heap a running Node process really holds, from outside it: SIGUSR1 opens its inspector (on
 * 127.0.0.1:9229, Node's default), a full garbage collection is asked for, the heap in use read, and the
 * inspector closed again. So a process's memory can be compared before and after without the garbage it
 * happens to carry, and without starting it differently. One process at a time (they all take port 9229).
 */
import { WebSocket } from 'ws';

const INSPECTOR = 'http://127.0.0.1:9229/json/list';

async function inspectorTargets(): Promise<{ webSocketDebuggerUrl: string }[] | undefined> {
  try {
    return (await (await fetch(INSPECTOR)).json()) as { webSocketDebuggerUrl: string }[];
  } catch {
    return undefined;
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Bytes of V8 heap in use by `pid` right after a full garbage collection. */
export async function collectedHeapBytes(pid: number): Promise<number> {
  if ((await inspectorTargets()) !== undefined) throw new Error('port 9229 is taken: cannot inspect');
  process.kill(pid, 'SIGUSR1');
  const targets = await until(`the inspector of ${pid}`, inspectorTargets);
  const url = targets[0]?.webSocketDebuggerUrl;
  if (url === undefined) throw new Error(`the inspector of ${pid} lists no target`);
  const ws = new WebSocket(url);
  await new Promise((done, fail) => {
    ws.once('open', done);
    ws.once('error', fail);
  });
  let lastId = 0;
  const call = (method: string, params: object = {}) =>
    new Promise<Record<string, unknown>>((done) => {
      const id = ++lastId;
      const onMessage = (data: Buffer) => {
        const message = JSON.parse(String(data)) as { id?: number; result: Record<string, unknown> };
        if (message.id !== id) return;
        ws.off('message', onMessage);
        done(message.result);
      };
      ws.on('message', onMessage);
      ws.send(JSON.stringify({ id, method, params }));
    });
  try {
    // Twice: the first may leave what finalizers freed for the next.
    await call('HeapProfiler.collectGarbage');
    await call('HeapProfiler.collectGarbage');
    const usage = await call('Runtime.getHeapUsage');
    // Closed from inside, after this answer: the process is left as it was.
    await call('Runtime.evaluate', {
      expression: "(() => { const i = require('node:inspector'); setTimeout(() => i.close(), 10); })()",
      includeCommandLineAPI: true,
    });
    return Number(usage.usedSize);
  } finally {
    ws.close();
    await until('the inspector to close', async () =>
      (await inspectorTargets()) === undefined ? true : undefined,
    );
  }
}
