/**
 * The proxy's native addon (native/*.c, built into build/Release/sifu_relay.node by `npm ci`): the
 * WebSocket relay's thread (native-relay.ts) and direct socket writes (direct-write.ts). Where it was
 * not built (no C compiler when the packages were installed), {@link addon} is undefined and both fall
 * back to Node's own machinery.
 */
import { createRequire } from 'node:module';

export interface NativePairHandle {
  readonly __nativePair: unique symbol;
}

export interface Addon {
  start(onEnd: (id: number, errno: number) => void): void;
  add(fdA: number, fdB: number, aToB: Buffer | null, bToA: Buffer | null): NativePairHandle;
  id(pair: NativePairHandle): number;
  moved(pair: NativePairHandle): number;
  activity(pair: NativePairHandle): number;
  close(pair: NativePairHandle): void;
  /** One non-blocking send(2): the bytes the kernel took (0: it would block), or -errno. */
  send(fd: number, data: Buffer | string): number;
}

/** Why the addon could not be loaded (for the log), or undefined once it is. */
export let addonUnavailable: string | undefined;

function load(): Addon | undefined {
  try {
    // Two levels under the package root, from src/proxy/ (tsx) and dist/proxy/ (the build) alike.
    return createRequire(import.meta.url)('../../build/Release/sifu_relay.node') as Addon;
  } catch (error) {
    addonUnavailable = error instanceof Error ? error.message.split('\n')[0] : String(error);
    return undefined;
  }
}

export const addon = load();
