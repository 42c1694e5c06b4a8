import { spawn } from 'node:child_process';

export interface RunOptions {
  /** Each line of stdout and stderr, as it comes (build progress). */
  onLine?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
  /** Written to stdin, then closed; or a stream piped in (e.g. a tar of the rootfs). */
  stdin?: NodeJS.ReadableStream;
  cwd?: string;
}

/**
 * Runs `argv` without a shell, reporting output line by line; resolves with stdout. Rejects with the
 * last lines of output when the command fails, so a build error names its cause.
 */
export function runCommand(argv: readonly string[], options: RunOptions = {}): Promise<string> {
  const [file, ...args] = argv as [string, ...string[]];
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    const tail: string[] = [];
    const lines = (chunk: Buffer, pending: { text: string }, keep: boolean): void => {
      const text = chunk.toString('utf8');
      if (keep) stdout += text;
      pending.text += text;
      const parts = pending.text.split(/\r?\n/);
      pending.text = parts.pop() ?? '';
      for (const line of parts) {
        tail.push(line);
        if (tail.length > 20) tail.shift();
        options.onLine?.(line);
      }
    };
    const out = { text: '' };
    const err = { text: '' };
    child.stdout?.on('data', (chunk: Buffer) => lines(chunk, out, true));
    child.stderr?.on('data', (chunk: Buffer) => lines(chunk, err, false));
    if (options.stdin && child.stdin) {
      options.stdin.pipe(child.stdin);
      child.stdin.on('error', () => {});
    }
    child.on('error', (error) => reject(new Error(`cannot run ${file}: ${error.message}`)));
    child.on('close', (code, signal) => {
      for (const pending of [out, err]) if (pending.text) tail.push(pending.text);
      if (code === 0) resolve(stdout);
      else
        reject(
          new Error(
            `${[file, ...args].join(' ')} ${code === null ? `killed by ${signal}` : `exited with ${code}`}:\n${tail.join('\n')}`,
          ),
        );
    });
  });
}
