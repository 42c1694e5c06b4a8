import type { Command } from 'commander';
import type { CliContext } from '../context.js';

/** `sifu migrate`: the schema upgrade `withStore` does anyway, on its own. */
export function registerMigrateCommand(program: Command, { withStore }: CliContext): void {
  program
    .command('migrate')
    .description('Create or upgrade the database schema, then exit.')
    .action(async () => {
      await withStore(async () => undefined);
      console.log('database is up to date');
    });
}
