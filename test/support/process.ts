/**
 * Waiting on things tests start, with nothing of Sifu imported: tests that run the built Sifu (dist/) use
 * these without loading src/.
 */
import type { ChildProcess } from 'node:child_process';

/** Polls `probe` until it gives a truthy value (returned), or fails after `ms` naming `what`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  ms = 30_000,
): Promise<T> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const value = await probe();
    if (value) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Everything a child writes to stdout and stderr, as it comes. */
export function collectOutput(child: ChildProcess): () => string {
  let out = '';
  const keep = (chunk: Buffer) => {
    out += chunk;
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return () => out;
}

/** Whether the hub at `hubUrl` answers its health check now. */
export const hubAnswers = (hubUrl: string): Promise<boolean> =>
  fetch(`${hubUrl}/hub/health`).then(
    (r) => r.ok,
    () => false,
  );

/**
 * Waits until the Sifu process `child` serves its hub (30 s at most); throws with its output if it exits
 * first or never answers. The caller stops it on failure.
 */
export async function waitUntilServing(
  child: ChildProcess,
  hubUrl: string,
  output: () => string,
): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`sifu exited early:\n${output()}`);
    if (await hubAnswers(hubUrl)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`sifu did not start:\n${output()}`);
}
