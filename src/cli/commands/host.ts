/**
 * `sifu host ...`: the hosts sharing the store, seen and drained from the command line (any host, or
 * any machine that reaches the store).
 */
import type { Command } from 'commander';
import { SifuError } from '../../errors.js';
import type { CliContext } from '../context.js';

export function registerHostCommands(program: Command, { config, withStore }: CliContext): void {
  const hostCmd = program.command('host').description('The hosts sharing the store: list, drain.');
  hostCmd
    .command('list')
    .description('Each host: alive or gone, draining, its servers and load, its relay.')
    .option('--json', 'as JSON')
    .action(async (opts: { json?: boolean }) => {
      await withStore(async (store) => {
        const hosts = await store.listHosts();
        const servers = await store.listServers();
        const now = Date.now();
        const goneAfterMs = config().cluster.goneAfter * 1000;
        const rows = hosts.map((h) => ({
          id: h.id,
          state: h.gone ? 'gone' : now - h.lastSeen.getTime() > goneAfterMs ? 'silent' : 'alive',
          draining: h.draining,
          servers: servers.filter((s) => s.host === h.id).length,
          lastSeen: h.lastSeen.toISOString(),
          memAvailable: h.load.memAvailable,
          relayUrl: h.relayUrl,
        }));
        if (opts.json) {
          console.log(JSON.stringify(rows, null, 2));
          return;
        }
        if (rows.length === 0) console.log('no host has announced itself yet (is `sifu serve` running?)');
        for (const r of rows) {
          const mem = `${Math.round(r.memAvailable / 2 ** 20)} MiB free`;
          console.log(
            `${r.id}\t${r.state}${r.draining ? ', draining' : ''}\t${r.servers} servers\t${mem}\t${r.relayUrl ?? '(no relay)'}\tlast seen ${r.lastSeen}`,
          );
        }
      });
    });
  const drain = (draining: boolean) => async (id: string) => {
    await withStore(async (store) => {
      if (!(await store.setDraining(id, draining))) {
        throw new SifuError('SIFU_ERR_NOT_FOUND', `no host named ${id} (see \`sifu host list\`)`);
      }
      await store.addEvent(draining ? 'host.drain' : 'host.undrain', null, { host: id });
      console.log(
        draining
          ? `${id} is draining: no new server starts there; its running servers are left to end, and each learner's next start goes to another host`
          : `${id} takes new servers again`,
      );
    });
  };
  hostCmd
    .command('drain <id>')
    .description('No new servers on this host; running ones are left to end (they move at their next start).')
    .action(drain(true));
  hostCmd.command('undrain <id>').description('The host takes new servers again.').action(drain(false));
  hostCmd
    .command('forget <id>')
    .description('Remove a host that was declared gone from the list.')
    .action(async (id: string) => {
      await withStore(async (store) => {
        if (!(await store.forgetHost(id))) {
          throw new SifuError('SIFU_ERR_BAD_REQUEST', `${id} is not a gone host (see \`sifu host list\`)`);
        }
        console.log(`${id} forgotten`);
      });
    });
}
