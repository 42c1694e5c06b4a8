import type { Command } from 'commander';
import { createTokenService, parseScopes, SCOPE_HELP } from '../../auth/tokens.js';
import { normalizeUsername } from '../../names.js';
import type { CliContext } from '../context.js';

/** `sifu token create | list | revoke`: API tokens, straight on the store. */
export function registerTokenCommands(program: Command, { withStore }: CliContext): void {
  const token = program.command('token').description('Manage API tokens.');
  token
    .command('create')
    .description('Create an API token for a user (created if missing); prints it once.')
    .requiredOption('-u, --user <name>', 'owner of the token')
    .option(
      '-s, --scopes <list>',
      `comma-separated scopes: Sifu's (${Object.keys(SCOPE_HELP).join(', ')}) or JupyterHub's, filters included (e.g. servers!user=ada, read:users, inherit)`,
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
}
