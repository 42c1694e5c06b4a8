// Builds the native addon (native/relay.c, the WebSocket relay, and native/send.c, direct writes ->
// build/Release/sifu_relay.node) with npm's node-gyp.
// Run by `npm ci` (package.json's install script): there a failure (no C compiler) is a warning, and Sifu
// relays WebSockets on its event loop instead. `--strict` (the Makefile, after installing the compiler)
// makes it an error.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const strict = process.argv.includes('--strict');
const root = resolve(import.meta.dirname, '..');
// npm tells its scripts where its node-gyp is; outside npm, the one beside this Node's npm.
const gyp =
  process.env.npm_config_node_gyp ??
  join(dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js');
const result = existsSync(gyp)
  ? spawnSync(process.execPath, [gyp, 'rebuild'], { cwd: root, stdio: 'inherit' })
  : { status: null, error: new Error(`node-gyp not found at ${gyp}`) };
if (result.status !== 0) {
  const why = result.error?.message ?? `node-gyp exited with ${result.status}`;
  if (strict) {
    console.error(`sifu: building the native WebSocket relay failed: ${why}`);
    process.exit(1);
  }
  console.warn(
    `sifu: the native WebSocket relay was not built (${why}); WebSockets will be relayed on the event loop.` +
      ' Install a C compiler and make (Debian: gcc make python3), then run `npm run build:native`.',
  );
}
