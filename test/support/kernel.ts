import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import type { Client } from './sifu.js';

/** A new python3 kernel of `user`'s server, made through the proxied REST API with the learner's cookies. */
async function startKernel(nb: string, client: Client, user: string): Promise<{ id: string }> {
  const created = await client.request(`${nb}/user/${user}/api/kernels`, {
    method: 'POST',
    headers: { origin: nb, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'python3' }),
  });
  if (created.status !== 201) throw new Error(`kernel start: ${created.status} ${await created.text()}`);
  return (await created.json()) as { id: string };
}

/**
 * Runs `code` in a new kernel of `user`'s server, as the learner's browser would: the kernel made through
 * the proxied REST API, the code sent over the proxied channels WebSocket with the learner's cookies.
 * Resolves with the result's text/plain (or `error: <evalue>`).
 */
export async function runInKernel(
  sifu: { notebookUrl: string },
  client: Client,
  user: string,
  code: string,
): Promise<string> {
  const nb = sifu.notebookUrl;
  const kernel = await startKernel(nb, client, user);
  return runOnChannels(
    `${nb.replace('http', 'ws')}/user/${user}/api/kernels/${kernel.id}/channels`,
    { cookie: client.cookieHeader(), origin: nb },
    code,
    user,
  );
}

/**
 * Sends `code` as an execute_request over a kernel's channels WebSocket at `url` (with `headers`, e.g. the
 * learner's cookies and origin); resolves with the result's text/plain, or `error: <evalue>`.
 */
export function runOnChannels(
  url: string,
  headers: Record<string, string>,
  code: string,
  user = 'learner',
): Promise<string> {
  const msgId = randomBytes(8).toString('hex');
  const message = {
    header: {
      msg_id: msgId,
      msg_type: 'execute_request',
      username: user,
      session: randomBytes(8).toString('hex'),
      version: '5.3',
    },
    parent_header: {},
    metadata: {},
    content: { code, silent: false, store_history: false, user_expressions: {}, allow_stdin: false },
    channel: 'shell',
    buffers: [],
  };
  const ws = new WebSocket(url, { headers });
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no execute_result within 60 s')), 60_000);
    ws.on('error', reject);
    ws.on('open', () => ws.send(JSON.stringify(message)));
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as {
        msg_type: string;
        parent_header: { msg_id?: string };
        content: { data?: Record<string, string>; evalue?: string };
      };
      if (msg.parent_header.msg_id !== msgId) return;
      if (msg.msg_type === 'execute_result' || msg.msg_type === 'error') {
        clearTimeout(timer);
        resolve(msg.content.data?.['text/plain'] ?? `error: ${msg.content.evalue}`);
      }
    });
  }).finally(() => ws.close());
}

/**
 * Starts `code` in a new kernel of `user`'s server as a browser would, waits until the kernel reports
 * itself busy with it, then closes the socket, leaving the computation running with no browser attached.
 * Resolves with the kernel's id.
 */
export async function leaveComputing(
  sifu: { notebookUrl: string },
  client: Client,
  user: string,
  code: string,
): Promise<string> {
  const nb = sifu.notebookUrl;
  const kernel = await startKernel(nb, client, user);
  const msgId = randomBytes(8).toString('hex');
  const ws = new WebSocket(`${nb.replace('http', 'ws')}/user/${user}/api/kernels/${kernel.id}/channels`, {
    headers: { cookie: client.cookieHeader(), origin: nb },
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the kernel never reported busy within 60 s')), 60_000);
    ws.on('error', reject);
    // Jupyter answers a new socket with kernel_info requests of its own on shell and control (its
    // "nudge"). A control request is answered beside a running cell, and its status `idle` overwrites
    // the `busy` that the server's kernels API reports, so the computation must start after them: a
    // browser's notebook waits for its kernel_info reply before it runs cells too.
    let sent = false;
    const execute = () => {
      if (sent) return;
      sent = true;
      ws.send(
        JSON.stringify({
          header: {
            msg_id: msgId,
            msg_type: 'execute_request',
            username: user,
            session: randomBytes(8).toString('hex'),
            version: '5.3',
          },
          parent_header: {},
          metadata: {},
          content: { code, silent: false, store_history: false, user_expressions: {}, allow_stdin: false },
          channel: 'shell',
          buffers: [],
        }),
      );
    };
    ws.on('open', () => setTimeout(execute, 3_000));
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as {
        msg_type: string;
        parent_header: { msg_id?: string; msg_type?: string };
        content: { execution_state?: string };
      };
      if (
        !sent &&
        msg.msg_type === 'status' &&
        msg.content.execution_state === 'idle' &&
        msg.parent_header.msg_type === 'kernel_info_request'
      ) {
        setTimeout(execute, 500);
      }
      if (
        msg.parent_header.msg_id === msgId &&
        msg.msg_type === 'status' &&
        msg.content.execution_state === 'busy'
      ) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  await new Promise<void>((resolve) => {
    ws.once('close', () => resolve());
    ws.close();
  });
  // What the culler will read: the server's own account of the kernel.
  let state = '';
  for (let i = 0; i < 50 && state !== 'busy'; i++) {
    const res = await client.request(`${nb}/user/${user}/api/kernels/${kernel.id}`);
    state = String(((await res.json()) as { execution_state?: string }).execution_state);
    if (state !== 'busy') await new Promise((r) => setTimeout(r, 100));
  }
  if (state !== 'busy') throw new Error(`the server reports the computing kernel ${state}, not busy`);
  return kernel.id;
}
