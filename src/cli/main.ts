#!/usr/bin/env node
import { Command, Option } from 'commander';
import { VERSION } from '../app/start.js';
import { createTokenService, parseScopes, SCOPE_HELP } from '../auth/tokens.js';
import { hideSecrets } from '../config/hide-secrets.js';
import { loadConfig, storeUrl } from '../config/load.js';
import { configReference } from '../config/reference.js';
import type { SifuConfig } from '../config/schema.js';
import { isSifuError } from '../errors.js';
import { normalizeUsername } from '../names.js';
import { openStore } from '../store/open-store.js';
import type { Store } from '../store/store.js';
import { registerCourseCommands } from './course.js';
import { serve } from './serve.js';

/** The `sifu` command: a thin shell over the composition root and the store. */
const program = new Command('sifu')
  .description('A personal Jupyter notebook server for every learner, behind one gateway.')
  .version(VERSION)
  .addOption(new Option('-c, --config <file>', 'JSON config file (SIFU_* environment variables override it)'))
  .showHelpAfterError();

function config(): SifuConfig {
  return loadConfig({ file: program.opts().config, env: process.env });
}

async function withStore<T>(task: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(storeUrl(config()));
  try {
    await store.migrate();
    return await task(store);
  } finally {
    await store.close();
  }
}

program
  .command('serve')
  .description('Start the hub and the notebook proxy; re-adopt servers that are still running.')
  .action(async () => {
    await serve(config());
  });

program
  .command('migrate')
  .description('Create or upgrade the database schema, then exit.')
  .action(async () => {
    await withStore(async () => undefined);
    console.log('database is up to date');
  });

const token = program.command('token').description('Manage API tokens.');
token
  .command('create')
  .description('Create an API token for a user (created if missing); prints it once.')
  .requiredOption('-u, --user <name>', 'owner of the token')
  .option(
    '-s, --scopes <list>',
    `comma-separated scopes: ${Object.keys(SCOPE_HELP).join(', ')}`,
    'servers,tokens',
  )
  .option('-n, --note <text>', 'what the token is for', '')
  .option('--expires-in <seconds>', 'lifetime in seconds (default: no expiry)')
  .option('--admin', 'make the owner an admin (needed for the admin scope)')
  .action(
    async (opts: { user: string; scopes: string; note: string; expiresIn?: string; admin?: boolean }) => {
      const userName = normalizeUsername(opts.user);
      const scopes = parseScopes(opts.scopes);
      const expires = opts.expiresIn === undefined ? null : Number(opts.expiresIn);
      if (expires !== null && !(Number.isInteger(expires) && expires > 0)) {
        throw new Error('--expires-in must be a positive whole number of seconds');
      }
      await withStore(async (store) => {
        await store.ensureUser(userName);
        if (opts.admin) await store.setAdmin(userName, true);
        if (scopes.includes('admin') && !(opts.admin || (await store.getUser(userName))?.admin)) {
          throw new Error(`the admin scope needs an admin owner: add --admin`);
        }
        const { token: value, record } = await createTokenService(store, {}).create({
          userName,
          scopes,
          note: opts.note,
          expiresInSeconds: expires,
        });
        await store.addEvent('token.create', userName, { id: record.id, by: 'cli', scopes });
        console.log(value);
      });
    },
  );
token
  .command('list')
  .description("List a user's tokens (never their values).")
  .requiredOption('-u, --user <name>', 'owner of the tokens')
  .action(async (opts: { user: string }) => {
    await withStore(async (store) => {
      for (const t of await store.listTokens(normalizeUsername(opts.user))) {
        console.log(
          `${t.id}\t${t.scopes.join(',')}\t${t.expiresAt?.toISOString() ?? 'no expiry'}\t${t.note}`,
        );
      }
    });
  });
token
  .command('revoke')
  .description('Revoke a token by id.')
  .requiredOption('-u, --user <name>', 'owner of the token')
  .argument('<id>', 'token id (see `sifu token list`)')
  .action(async (id: string, opts: { user: string }) => {
    await withStore(async (store) => {
      if (!(await store.deleteToken(normalizeUsername(opts.user), id))) throw new Error(`no token ${id}`);
      console.log(`revoked ${id}`);
    });
  });

registerCourseCommands(program, withStore, config);

const image = program.command('image').description('Notebook images.');
image
  .command('build')
  .description(
    'Build (or reuse) the notebook base image, offline from a debootstrapped Debian by default, and a course image on top.',
  )
  .option('--tag <tag>', 'base image tag', 'sifu/notebook-base:bookworm')
  .option('--from <image>', 'build the base on this registry image instead of a debootstrapped Debian')
  .option('--mirror <url>', 'Debian mirror for debootstrap and apt')
  .option('--course-repo <url>', 'git repository of a course, cloned into /opt/course of a course image')
  .option('--course-ref <ref>', 'branch or tag of the course repository')
  .option('--course-tag <tag>', 'course image tag', 'sifu/notebook-course:latest')
  .option('--course-token-env <name>', 'environment variable holding the deployment token (a build secret)')
  .option('--force', 'rebuild even when an image with the same content hash exists')
  .action(
    async (opts: {
      tag: string;
      from?: string;
      mirror?: string;
      courseRepo?: string;
      courseRef?: string;
      courseTag: string;
      courseTokenEnv?: string;
      force?: boolean;
    }) => {
      const { buildImages } = await import('../image/build-images.js');
      await buildImages({
        baseTag: opts.tag,
        from: opts.from,
        mirror: opts.mirror,
        force: opts.force,
        course: opts.courseRepo
          ? {
              tag: opts.courseTag,
              source: { repository: opts.courseRepo, ref: opts.courseRef, tokenEnv: opts.courseTokenEnv },
            }
          : undefined,
        onProgress: (line) => console.log(line),
      });
    },
  );

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

program.parseAsync(process.argv).catch((err: unknown) => {
  const message = isSifuError(err) ? `${err.code}: ${err.message}` : (err as Error).message;
  console.error(`sifu: ${message}`);
  process.exit(1);
});
