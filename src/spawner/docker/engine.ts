import type Docker from 'dockerode';
import type { ProgressEvent } from '../spawner.js';

/** The engine answered 404: the object is gone (or never was). */
export function isNotFound(err: unknown): boolean {
  return (err as { statusCode?: number } | null)?.statusCode === 404;
}

/** The engine answered 409 (conflict), e.g. removing a container already being removed. */
export function isConflict(err: unknown): boolean {
  return (err as { statusCode?: number } | null)?.statusCode === 409;
}

/**
 * The last lines of a container's output. Without a TTY the engine multiplexes stdout and stderr in frames
 * (8-byte header: stream, 3 zero bytes, big-endian length); secrets are redacted.
 */
export function demuxLogs(raw: Buffer | string, redact: readonly string[] = []): string {
  let text: string;
  if (typeof raw === 'string') {
    text = raw;
  } else {
    const parts: string[] = [];
    let offset = 0;
    while (offset + 8 <= raw.length && raw[offset + 1] === 0 && raw[offset + 2] === 0) {
      const length = raw.readUInt32BE(offset + 4);
      parts.push(raw.subarray(offset + 8, offset + 8 + length).toString('utf8'));
      offset += 8 + length;
    }
    text = offset === 0 ? raw.toString('utf8') : parts.join('');
  }
  for (const secret of redact) if (secret) text = text.replaceAll(secret, '<secret>');
  return text.trim();
}

export async function containerLogTail(
  docker: Docker,
  id: string,
  redact: readonly string[] = [],
): Promise<string> {
  try {
    const raw = (await docker.getContainer(id).logs({
      stdout: true,
      stderr: true,
      tail: 20,
      follow: false,
    })) as unknown as Buffer;
    const text = demuxLogs(raw, redact);
    return text ? `last output:\n${text}` : 'no output';
  } catch (err) {
    return `output unavailable (${String((err as Error).message ?? err)})`;
  }
}

/**
 * Makes sure `image` is present, pulling it if not, with the pull shown as progress between `from` and
 * `to`. Offline (as in tests) images are built locally and the pull is never needed.
 */
export async function ensureImage(
  docker: Docker,
  image: string,
  progress: (event: ProgressEvent) => void,
  range: { from: number; to: number },
): Promise<void> {
  try {
    await docker.getImage(image).inspect();
    return;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  progress({ progress: range.from, message: `Downloading the notebook image ${image}` });
  const stream = (await docker.pull(image)) as NodeJS.ReadableStream;
  await new Promise<void>((resolve, reject) => {
    let last = range.from;
    docker.modem.followProgress(
      stream,
      (err: Error | null) => (err ? reject(err) : resolve()),
      (event: { status?: string; progressDetail?: { current?: number; total?: number } }) => {
        const { current, total } = event.progressDetail ?? {};
        if (current && total) {
          const value = Math.floor(range.from + ((range.to - range.from) * current) / total);
          if (value > last) {
            last = value;
            progress({ progress: value, message: `Downloading the notebook image (${event.status ?? ''})` });
          }
        }
      },
    );
  });
}
