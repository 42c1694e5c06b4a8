import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  baseDockerfile,
  CONTENT_HASH_LABEL,
  type CourseSource,
  contentHash,
  courseDockerfile,
  DEFAULT_BASE_TAG,
  IMAGE_KIND_LABEL,
  type RootfsRecipe,
  rootfsRecipe,
  rootfsTag,
} from './recipe.js';
import { runCommand } from './run-command.js';

export interface BuildImagesOptions {
  /** Tag of the base image (default `sifu/notebook-base:bookworm`). */
  baseTag?: string;
  /**
   * Registry image to build the base on (e.g. `quay.io/jupyter/base-notebook`). Default: a Debian rootfs
   * from `debootstrap`, imported, so the build needs no registry at all.
   */
  from?: string;
  /** Debian mirror for debootstrap and apt (default Debian's). */
  mirror?: string;
  /** Where debootstrap's rootfs is kept between runs (default `/var/cache/sifu`). */
  cacheDir?: string;
  /** A course image on top of the base. */
  course?: { tag: string; source: CourseSource };
  /** The docker CLI (default `docker`; `SIFU_DOCKER_CLI`). */
  dockerCli?: string;
  /** Progress lines: each step, then the build's own output indented. */
  onProgress?: (line: string) => void;
  /** Rebuild even when an image with the same content hash exists. */
  force?: boolean;
}

export interface BuiltImages {
  base: string;
  course?: string;
  /** Which images were built now, as opposed to reused from a previous run. */
  built: string[];
}

/**
 * Builds (or reuses) the notebook images: rootfs (offline default), base, and optionally a course image.
 * Each image is reused when one with the same tag and `sifu.content-hash` label exists.
 */
export async function buildImages(options: BuildImagesOptions = {}): Promise<BuiltImages> {
  const docker = options.dockerCli ?? process.env.SIFU_DOCKER_CLI ?? 'docker';
  const say = options.onProgress ?? (() => {});
  const indent = (line: string) => say(`    ${line}`);
  const built: string[] = [];
  const steps = options.course ? 3 : 2;

  let from = options.from;
  let fromHash = options.from ?? '';
  if (!from) {
    const recipe = rootfsRecipe(options.mirror);
    from = rootfsTag(recipe);
    fromHash = contentHash(recipe);
    if (!options.force && (await labelOf(docker, from)) === fromHash) {
      say(`[1/${steps}] rootfs ${from}: up to date`);
    } else {
      say(
        `[1/${steps}] rootfs ${from}: debootstrap ${recipe.suite} from ${recipe.mirror}, then docker import`,
      );
      await importRootfs(docker, recipe, from, fromHash, options.cacheDir ?? '/var/cache/sifu', indent);
      built.push(from);
    }
  } else {
    say(`[1/${steps}] base image on ${from} (from a registry)`);
  }

  const base = options.baseTag ?? DEFAULT_BASE_TAG;
  const baseFile = baseDockerfile(from);
  const baseHash = contentHash({ baseFile, fromHash });
  if (!options.force && (await labelOf(docker, base)) === baseHash) {
    say(`[2/${steps}] base ${base}: up to date`);
  } else {
    say(`[2/${steps}] base ${base}: installing Jupyter from Debian (about a minute)`);
    await dockerBuild(docker, { tag: base, dockerfile: baseFile, hash: baseHash, onLine: indent });
    built.push(base);
  }

  let course: string | undefined;
  if (options.course) {
    const { tag, source } = options.course;
    const file = courseDockerfile(base, source);
    const hash = contentHash({ file, baseHash });
    if (!options.force && (await labelOf(docker, tag)) === hash) {
      say(`[3/3] course ${tag}: up to date`);
    } else {
      say(`[3/3] course ${tag}: cloning ${source.repository}`);
      const token = source.tokenEnv ? process.env[source.tokenEnv] : undefined;
      if (source.tokenEnv && !token)
        throw new Error(`the course token variable ${source.tokenEnv} is not set`);
      const cli = await buildkitCli(docker);
      await dockerBuild(cli, { tag, dockerfile: file, hash, onLine: indent, secret: token });
      built.push(tag);
    }
    course = tag;
  }
  say(`images ready: ${[base, course].filter(Boolean).join(', ')}`);
  return { base, course, built };
}

/**
 * A docker CLI that can use BuildKit (needed for the secret mount): one with the buildx plugin, else
 * Debian's `docker.io` CLI (20.10), which has BuildKit built in.
 */
async function buildkitCli(docker: string): Promise<string> {
  const ok = await runCommand([docker, 'buildx', 'version']).then(
    () => true,
    () => false,
  );
  if (ok || !existsSync('/usr/bin/docker')) return docker;
  return '/usr/bin/docker';
}

/** The image's content-hash label, or undefined when there is no such image. */
export async function labelOf(docker: string, tag: string): Promise<string | undefined> {
  try {
    const out = await runCommand([
      docker,
      'image',
      'inspect',
      '--format',
      `{{index .Config.Labels "${CONTENT_HASH_LABEL}"}}`,
      tag,
    ]);
    return out.trim() || undefined;
  } catch {
    return undefined;
  }
}

async function importRootfs(
  docker: string,
  recipe: RootfsRecipe,
  tag: string,
  hash: string,
  cacheDir: string,
  onLine: (line: string) => void,
): Promise<void> {
  const dir = join(cacheDir, `rootfs-${recipe.suite}-${hash}`);
  if (!existsSync(join(dir, 'etc', 'debian_version'))) {
    await mkdir(cacheDir, { recursive: true });
    const partial = `${dir}.partial`;
    await rm(partial, { recursive: true, force: true });
    await runCommand(['debootstrap', '--variant=minbase', recipe.suite, partial, recipe.mirror], { onLine });
    await rename(partial, dir);
  } else {
    onLine(`reusing the debootstrap tree in ${dir}`);
  }
  const tar = spawn('tar', ['-C', dir, '--numeric-owner', '-c', '.'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await runCommand(
    [
      docker,
      'import',
      '--change',
      `LABEL ${CONTENT_HASH_LABEL}=${hash} ${IMAGE_KIND_LABEL}=rootfs`,
      '--change',
      'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      '-',
      tag,
    ],
    { stdin: tar.stdout, onLine },
  );
}

/**
 * `docker build` of one Dockerfile with an empty context, on the host network (the Debian mirror must be
 * reachable; no bridge exists here). A secret, when given, goes through BuildKit's secret mount from a
 * 0600 temporary file removed right after: never a build argument, so never in the image history.
 */
async function dockerBuild(
  docker: string,
  build: { tag: string; dockerfile: string; hash: string; onLine: (line: string) => void; secret?: string },
): Promise<void> {
  const context = await mkdtemp(join(tmpdir(), 'sifu-image-'));
  try {
    await writeFile(join(context, 'Dockerfile'), build.dockerfile);
    const argv = [docker, 'build', '--network', 'host', '--label', `${CONTENT_HASH_LABEL}=${build.hash}`];
    let env: NodeJS.ProcessEnv = { ...process.env, DOCKER_BUILDKIT: '0' };
    if (build.secret !== undefined) {
      const secretFile = join(context, '.course-token');
      await writeFile(secretFile, build.secret, { mode: 0o600 });
      await chmod(secretFile, 0o600);
      await writeFile(join(context, '.dockerignore'), '.course-token\n');
      argv.push('--progress', 'plain', '--secret', `id=course_token,src=${secretFile}`);
      env = { ...process.env, DOCKER_BUILDKIT: '1' };
    }
    argv.push('-t', build.tag, context);
    await runCommand(argv, { env, onLine: build.onLine });
  } finally {
    await rm(context, { recursive: true, force: true });
  }
}
