import type { Command } from 'commander';
import { loadConfig, storeUrl } from '../config/load.js';
import type { SifuConfig } from '../config/schema.js';
import { openStore } from '../store/open-store.js';
import type { Store } from '../store/store.js';

/** What every `sifu` command is given: the configuration and the store, opened on demand. */
export interface CliContext {
  /** The configuration from `--config` and the `SIFU_*` environment, validated on each call. */
  config(): SifuConfig;
  /** Opens and migrates the store, runs `task`, and closes the store whether or not `task` fails. */
  withStore<T>(task: (store: Store) => Promise<T>): Promise<T>;
}

/** The context of `program`, whose global options (`--config`) are read when a command runs. */
export function cliContext(program: Command): CliContext {
  const config = (): SifuConfig => loadConfig({ file: program.opts().config, env: process.env });
  return {
    config,
    async withStore(task) {
      const store = await openStore(storeUrl(config()));
      try {
        await store.migrate();
        return await task(store);
      } finally {
        await store.close();
      }
    },
  };
}
