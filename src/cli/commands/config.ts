import type { Command } from 'commander';
import { hideSecrets } from '../../config/hide-secrets.js';
import { configReference } from '../../config/reference.js';
import type { CliContext } from '../context.js';

/** `sifu config reference | check`: the schema's reference, and the configuration in effect. */
export function registerConfigCommands(program: Command, { config }: CliContext): void {
  const configCmd = program.command('config').description('Show configuration.');
  configCmd
    .command('reference')
    .description('Print the configuration reference (Markdown), derived from the schema.')
    .action(() => {
      process.stdout.write(configReference());
    });
  configCmd
    .command('check')
    .description('Validate the configuration from file and environment; print it with secrets hidden.')
    .action(() => {
      console.log(JSON.stringify(hideSecrets(config()), null, 2));
    });
}
