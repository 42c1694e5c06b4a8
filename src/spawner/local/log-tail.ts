import { open } from 'node:fs/promises';

/**
 * The last lines of a server's log, for `logDetail` when it dies: the reason is almost always there
 * (a Python traceback, "port already in use"...). Never for `message`: learners must not see it.
 */
export async function readLogTail(
  path: string,
  maxBytes = 2_048,
  redact: readonly string[] = [],
): Promise<string> {
  let text: string;
  let cut = false;
  try {
    const file = await open(path, 'r');
    try {
      const { size } = await file.stat();
      const length = Math.min(size, maxBytes);
      const buffer = Buffer.alloc(length);
      await file.read(buffer, 0, length, size - length);
      text = buffer.toString('utf8');
      cut = size > length;
    } finally {
      await file.close();
    }
  } catch (err) {
    return `(log ${path} unreadable: ${(err as NodeJS.ErrnoException).code ?? String(err)})`;
  }
  // Drop a partial first line when the tail was cut.
  const lines = text.split('\n');
  if (cut && lines.length > 1) lines.shift();
  let tail = lines.join('\n').trimEnd();
  for (const secret of redact) if (secret) tail = tail.split(secret).join('<secret>');
  return tail === '' ? `(log ${path} is empty)` : `log ${path}, last lines:\n${tail}`;
}
