#!/usr/bin/env node
import { Command, Option } from 'commander';
import { VERSION } from '../app/start.js';
import { isSifuError } from '../errors.js';
import { registerConfigCommands } from './commands/config.js';
import { registerCourseCommands } from './commands/course.js';
import { registerDeployCommands } from './commands/deploy.js';
import { registerHostCommands } from './commands/host.js';
import { registerImageCommands } from './commands/image.js';
import { registerMigrateCommand } from './commands/migrate.js';
import { registerServeCommand } from './commands/serve.js';
import { registerStorageCommands } from './commands/storage.js';
import { registerTokenCommands } from './commands/token.js';
import { cliContext } from './context.js';

/** The `sifu` command: a thin shell over the composition root and the store. */
const program = new Command('sifu')
  .description('A personal Jupyter notebook server for every learner, behind one gateway.')
  .version(VERSION)
  .addOption(new Option('-c, --config <file>', 'JSON config file (SIFU_* environment variables override it)'))
  .showHelpAfterError();

const context = cliContext(program);
// In this order in `sifu --help`.
registerServeCommand(program, context);
registerMigrateCommand(program, context);
registerTokenCommands(program, context);
registerCourseCommands(program, context);
registerStorageCommands(program, context);
registerHostCommands(program, context);
registerImageCommands(program);
registerConfigCommands(program, context);
registerDeployCommands(program, context);

program.parseAsync(process.argv).catch((err: unknown) => {
  const message = isSifuError(err) ? `${err.code}: ${err.message}` : (err as Error).message;
  console.error(`sifu: ${message}`);
  process.exit(1);
});
