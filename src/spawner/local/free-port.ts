import { createServer } from 'node:net';

/**
 * Ports handed out lately, not yet bound by their server: the OS may offer a just-closed port again, so
 * two concurrent starts could otherwise get the same one.
 */
const recentlyPicked = new Map<number, number>();
const RECENT_MS = 60_000;

/**
 * A port on 127.0.0.1 that was free a moment ago (the OS picks it: listen on port 0, then close).
 * Another process may still take it before the server binds it; that server then fails to start,
 * which the core reports like any failed start.
 */
export async function pickFreePort(): Promise<number> {
  const now = Date.now();
  for (const [port, at] of recentlyPicked) if (now - at > RECENT_MS) recentlyPicked.delete(port);
  for (let attempt = 0; attempt < 10; attempt += 1) {
    const port = await askOsForPort();
    if (!recentlyPicked.has(port)) {
      recentlyPicked.set(port, now);
      return port;
    }
  }
  throw new Error('the OS kept offering ports already handed out');
}

function askOsForPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port from the OS'));
      });
    });
  });
}
