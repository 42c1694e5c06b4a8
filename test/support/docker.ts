import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type Docker from 'dockerode';
import { DEFAULT_SPAWNER_COMMAND } from '../../src/config/schema.js';
import { buildImages } from '../../src/image/build-images.js';
import type { ContractCommands } from '../../src/spawner/contract.case.js';
import type { Started } from '../../src/spawner/spawner.js';

/** Support for the container backends' tests (not a test itself): a real engine and the offline image. */

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const DOUBLES_DIR = join(repoRoot, 'src', 'spawner', 'doubles');
/** Where the failure doubles appear in a container (bind-mounted read-only). */
export const DOUBLES_MOUNT = '/sifu-doubles';
export const TEST_LABEL = 'sifu.test';

let ready: Promise<string> | undefined;

/**
 * Starts dockerd (scripts/start-dockerd.sh, idempotent; with `swarm`, a single-node swarm on 127.0.0.1)
 * and builds or reuses the offline notebook image; resolves with its tag. Once per test process.
 */
export function dockerForTests(options: { swarm?: boolean; quiet?: boolean } = {}): Promise<string> {
  ready ??= (async () => {
    await run(join(repoRoot, 'scripts', 'start-dockerd.sh'), options.swarm ? ['swarm'] : [], {
      timeout: 120_000,
    });
    const images = await buildImages({
      onProgress: (line) => (options.quiet ? console.error : console.log)(`# image: ${line}`),
    });
    return images.base;
  })();
  return ready.then(async (image) => {
    if (options.swarm)
      await run(join(repoRoot, 'scripts', 'start-dockerd.sh'), ['swarm'], { timeout: 60_000 });
    return image;
  });
}

export const contractCommands = (): ContractCommands => {
  const fake = (mode: string) => `python3 ${DOUBLES_MOUNT}/fake-server.py ${mode}`;
  return {
    jupyter: DEFAULT_SPAWNER_COMMAND,
    fast: fake('fast'),
    slow: fake('slow'),
    neverReady: fake('never-ready'),
    crashAtStart: fake('crash-at-start'),
    crashWhileRunning: fake('crash-while-running'),
    ignoresSigterm: fake('ignores-sigterm'),
  };
};

/** Every process argv of a container, as any host user sees them in /proc (host pid namespace). */
export async function containerArgv(docker: Docker, containerId: string): Promise<string[]> {
  const top = (await docker.getContainer(containerId).top()) as { Titles: string[]; Processes: string[][] };
  const pidColumn = top.Titles.indexOf('PID');
  const argv: string[] = [];
  for (const row of top.Processes) {
    const pid = row[pidColumn];
    const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    argv.push(...raw.split('\0').filter(Boolean));
  }
  return argv;
}

export const containerIdOf = (started: Started): string => started.state.containerId as string;

/** Removes every container, service, secret and network a test run labelled, whatever state they are in. */
export async function removeLabelled(docker: Docker, label: string): Promise<void> {
  const filters = JSON.stringify({ label: [label] });
  const services = await docker.listServices({ filters }).catch(() => []);
  await Promise.all(
    services.map((s) =>
      docker
        .getService(s.ID)
        .remove()
        .catch(() => {}),
    ),
  );
  const containers = await docker.listContainers({ all: true, filters });
  await Promise.all(
    containers.map((c) =>
      docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => {}),
    ),
  );
  const secrets = await docker.listSecrets({ filters }).catch(() => []);
  await Promise.all(
    secrets.map((s) =>
      docker
        .getSecret(s.ID)
        .remove()
        .catch(() => {}),
    ),
  );
  // Last: a network is removable only once no container of a removed service is on it any more.
  const networks = await docker.listNetworks({ filters }).catch(() => []);
  for (const network of networks) {
    for (let attempt = 0; attempt < 50; attempt += 1) {
      const removed = await docker
        .getNetwork(network.Id)
        .remove()
        .then(
          () => true,
          (err: { statusCode?: number }) => err.statusCode === 404,
        );
      if (removed) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
