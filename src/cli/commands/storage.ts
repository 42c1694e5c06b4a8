/**
 * `sifu storage ...`: learners' files from the command line, on the same store and storage root as
 * `sifu serve` (run it where the storage root is mounted).
 */
import type { Command } from 'commander';
import { normalizeUsername } from '../../names.js';
import { Storage } from '../../storage/storage.js';
import { formatBytes } from '../../storage/usage.js';
import type { Store } from '../../store/store.js';
import type { CliContext } from '../context.js';

export function registerStorageCommands(program: Command, { config, withStore }: CliContext): void {
  const storageOf = (store: Store) => Storage.fromConfig(store, config());

  const storageCmd = program.command('storage').description("Learners' files: usage, trash, purge.");
  storageCmd
    .command('usage')
    .description("Show a user's disk usage and quota.")
    .requiredOption('-u, --user <name>')
    .action(async (opts: { user: string }) => {
      await withStore(async (store) => {
        const report = await storageOf(store).report(normalizeUsername(opts.user));
        const quota = report.quota ? formatBytes(report.quota) : 'none';
        console.log(
          `${formatBytes(report.bytes)} in ${report.files} files; quota ${quota}${report.overQuota ? ' (over)' : ''}`,
        );
      });
    });
  storageCmd
    .command('purge-trash')
    .description('Remove trash entries older than storage.trashRetention (serve does this hourly).')
    .action(async () => {
      await withStore(async (store) => {
        console.log(`purged ${await storageOf(store).trash.purgeExpired()} entries`);
      });
    });
  storageCmd
    .command('purge-user')
    .description("Delete ALL of a user's files, home and trash (a data-deletion request). Audited.")
    .requiredOption('-u, --user <name>')
    .requiredOption('--yes', 'confirm')
    .action(async (opts: { user: string }) => {
      const user = normalizeUsername(opts.user);
      await withStore(async (store) => {
        const result = await storageOf(store).purgeUser(user);
        await store.addEvent('storage.purge', user, { by: 'cli', ...result });
        console.log(`purged ${user}'s files`);
      });
    });
}
