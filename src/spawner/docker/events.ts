import type Docker from 'dockerode';
import { LABEL_SERVER, LABEL_USER } from './labels.js';

interface EngineEvent {
  Type?: string;
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
}

const RECONNECT_MS = 1_000;

/**
 * Follows the engine's event stream for containers carrying `labels` that die, so Sifu notices a dead
 * server within moments instead of at the next poll round. Reconnects after the stream breaks (engine
 * restart). Returns a function that stops watching.
 */
export function watchContainerDeaths(
  docker: Docker,
  labels: string[],
  onStopped: (server: { userName: string; serverName: string; containerId: string }) => void,
): () => void {
  let stopped = false;
  let current: NodeJS.ReadableStream | undefined;
  let retry: NodeJS.Timeout | undefined;

  const connect = (): void => {
    if (stopped) return;
    docker.getEvents(
      { filters: { type: ['container'], event: ['die'], label: labels } },
      (err: Error | null, stream?: NodeJS.ReadableStream) => {
        if (err || !stream) {
          retry = setTimeout(connect, RECONNECT_MS);
          retry.unref();
          return;
        }
        if (stopped) {
          (stream as unknown as { destroy(): void }).destroy();
          return;
        }
        current = stream;
        let pending = '';
        stream.on('data', (chunk: Buffer) => {
          pending += chunk.toString('utf8');
          const lines = pending.split('\n');
          pending = lines.pop() ?? '';
          for (const line of lines) {
            if (!line.trim()) continue;
            let event: EngineEvent;
            try {
              event = JSON.parse(line) as EngineEvent;
            } catch {
              continue;
            }
            const attributes = event.Actor?.Attributes ?? {};
            const userName = attributes[LABEL_USER];
            if (event.Action !== 'die' || userName === undefined) continue;
            onStopped({
              userName,
              serverName: attributes[LABEL_SERVER] ?? '',
              containerId: event.Actor?.ID ?? '',
            });
          }
        });
        const reconnect = () => {
          if (current !== stream || stopped) return;
          current = undefined;
          retry = setTimeout(connect, RECONNECT_MS);
          retry.unref();
        };
        stream.on('end', reconnect);
        stream.on('error', reconnect);
        stream.on('close', reconnect);
      },
    );
  };
  connect();
  return () => {
    stopped = true;
    if (retry) clearTimeout(retry);
    (current as unknown as { destroy?(): void } | undefined)?.destroy?.();
    current = undefined;
  };
}
