import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  chmod,
  copyFile,
  cp,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { buildImages, labelOf } from './build-images.js';
import { CONTENT_HASH_LABEL, IMAGE_KIND_LABEL, rootfsRecipe, rootfsTag } from './recipe.js';
import { runCommand } from './run-command.js';

/**
 * Sifu's own image, for `sifu deploy aws-eb`: built offline like the notebook images, on the same
 * debootstrapped Debian rootfs, with no Dockerfile of the project's and no registry. Debian 12's nodejs
 * is 18 and Sifu needs 20, so the image gets the Node binary running this build (`process.execPath`),
 * with `dist/`, the production `node_modules` and `assets/`. The tag is the content hash of all of that:
 * an unchanged source is not rebuilt.
 */
export interface SifuImageOptions {
  /** The package root: `package.json`, `package-lock.json`, `node_modules/`, `dist/`, `assets/`. */
  packageRoot: string;
  /** Repository part of the tag (default `sifu/sifu`); the tag is `<repository>:<content hash>`. */
  repository?: string;
  dockerCli?: string;
  onProgress?: (line: string) => void;
  /** The Node binary to ship (default: the one running this). */
  nodeBinary?: string;
  /** After a build, remove this repository's other tags (each is a few hundred MB); in-use ones stay. */
  removeOlder?: boolean;
}

export const SIFU_IMAGE_REPOSITORY = 'sifu/sifu';
/** Where Sifu lives in the image (the entrypoint runs `/opt/sifu/dist/cli/main.js`). */
export const SIFU_IMAGE_ROOT = '/opt/sifu';

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(path)));
    else if (entry.isFile()) out.push(path);
  }
  return out.sort();
}

/** The native WebSocket relay `npm ci` built (native-relay.ts), shipped in the image where it was built. */
const NATIVE_RELAY = 'build/Release/sifu_relay.node';

/** The hash of what goes into the image: dist, assets, the lock file, the native relay, Node and the recipe. */
export async function sifuImageHash(
  packageRoot: string,
  nodeBinary: string,
  recipe: string,
): Promise<string> {
  const hash = createHash('sha256');
  hash.update(recipe);
  for (const dir of ['dist', 'assets']) {
    for (const file of await listFiles(join(packageRoot, dir))) {
      if (file.endsWith('.map')) continue;
      hash.update(relative(packageRoot, file));
      hash.update(await readFile(file));
    }
  }
  for (const file of ['package.json', 'package-lock.json'])
    hash.update(await readFile(join(packageRoot, file)));
  if (existsSync(join(packageRoot, NATIVE_RELAY)))
    hash.update(await readFile(join(packageRoot, NATIVE_RELAY)));
  const node = await stat(nodeBinary);
  hash.update(`${process.version}:${node.size}`);
  return hash.digest('hex').slice(0, 16);
}

function sifuDockerfile(from: string): string {
  return [
    `FROM ${from}`,
    'ENV LANG=C.UTF-8 NODE_ENV=production',
    'COPY node /usr/local/bin/node',
    `COPY sifu ${SIFU_IMAGE_ROOT}`,
    `RUN chmod 0755 /usr/local/bin/node ${SIFU_IMAGE_ROOT}/assets/eb/sifu-entrypoint.sh && node --version`,
    `WORKDIR ${SIFU_IMAGE_ROOT}`,
    `ENTRYPOINT ["${SIFU_IMAGE_ROOT}/assets/eb/sifu-entrypoint.sh"]`,
    'CMD ["serve"]',
    `LABEL ${IMAGE_KIND_LABEL}=sifu`,
    '',
  ].join('\n');
}

/** Builds (or reuses) Sifu's image; resolves with its tag. `dist/` must be built (`npm run build`). */
export async function buildSifuImage(options: SifuImageOptions): Promise<{ tag: string; built: boolean }> {
  const docker = options.dockerCli ?? process.env.SIFU_DOCKER_CLI ?? 'docker';
  const say = options.onProgress ?? (() => {});
  const root = options.packageRoot;
  const nodeBinary = options.nodeBinary ?? process.execPath;
  if (!existsSync(join(root, 'dist', 'cli', 'main.js')))
    throw new Error(`${join(root, 'dist')} is not built: run \`npm run build\` first`);

  const from = rootfsTag(rootfsRecipe());
  const dockerfile = sifuDockerfile(from);
  const hash = await sifuImageHash(root, nodeBinary, dockerfile);
  const tag = `${options.repository ?? SIFU_IMAGE_REPOSITORY}:${hash}`;
  if ((await labelOf(docker, tag)) === hash) {
    say(`sifu image ${tag}: up to date`);
    return { tag, built: false };
  }
  // The rootfs (and the notebook base beside it) from the offline builder, reused when present.
  await buildImages({ dockerCli: docker, onProgress: say });

  const context = await mkdtemp(join(tmpdir(), 'sifu-app-image-'));
  try {
    const app = join(context, 'sifu');
    say(`sifu image ${tag}: staging dist/, assets/ and the production node_modules`);
    for (const dir of ['dist', 'assets', 'node_modules'])
      await cp(join(root, dir), join(app, dir), { recursive: true, verbatimSymlinks: true });
    for (const file of ['package.json', 'package-lock.json'])
      await copyFile(join(root, file), join(app, file));
    if (existsSync(join(root, NATIVE_RELAY))) {
      await mkdir(dirname(join(app, NATIVE_RELAY)), { recursive: true });
      await copyFile(join(root, NATIVE_RELAY), join(app, NATIVE_RELAY));
    }
    await runCommand(['npm', 'prune', '--omit=dev', '--offline', '--no-audit', '--no-fund'], { cwd: app });
    await copyFile(nodeBinary, join(context, 'node'));
    await chmod(join(context, 'node'), 0o755);
    await writeFile(join(context, 'Dockerfile'), dockerfile);
    say(`sifu image ${tag}: docker build`);
    await runCommand(
      [docker, 'build', '--network', 'none', '--label', `${CONTENT_HASH_LABEL}=${hash}`, '-t', tag, context],
      { env: { ...process.env, DOCKER_BUILDKIT: '0' }, onLine: (line) => say(`    ${line}`) },
    );
    if (options.removeOlder) await removeOlderTags(docker, options.repository ?? SIFU_IMAGE_REPOSITORY, tag);
    return { tag, built: true };
  } finally {
    await rm(context, { recursive: true, force: true });
  }
}

async function removeOlderTags(docker: string, repository: string, keep: string): Promise<void> {
  const out = await runCommand([docker, 'image', 'ls', '--format', '{{.Repository}}:{{.Tag}}', repository]);
  for (const old of out.split('\n').filter((t) => t && t !== keep && !t.endsWith(':<none>')))
    await runCommand([docker, 'image', 'rm', old]).catch(() => {});
}
