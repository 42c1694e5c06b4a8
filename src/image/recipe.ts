import { createHash } from 'node:crypto';

/**
 * What the notebook images are made of, as pure data: the Dockerfiles, their tags and content hashes.
 * An image is rebuilt only when its recipe (and what it stands on) changes: each carries the hash of its
 * recipe in the label `sifu.content-hash`, and the builder reuses an image whose label matches.
 *
 * Three layers, as in the seed (base image + final image):
 * - rootfs: Debian bookworm from `debootstrap`, imported (`docker import`), so nothing needs a registry;
 * - base: Debian's `jupyter-notebook` installed on a rootfs (or on any registry image in production);
 * - course: the base plus a course's files, cloned at build time through a build secret.
 */
export const CONTENT_HASH_LABEL = 'sifu.content-hash';
export const IMAGE_KIND_LABEL = 'sifu.image';

export const DEBIAN_SUITE = 'bookworm';
export const DEFAULT_MIRROR = 'http://deb.debian.org/debian';
export const DEFAULT_BASE_TAG = 'sifu/notebook-base:bookworm';

/**
 * Debian packages of the base image: the notebook server, a kernel, git for course repositories, and
 * `jupyterhub` for its `jupyterhub-singleuser` (3.0), so that the one image runs either command
 * (docs/singleuser.md). That last costs about 96 MB (571 to 667 MB, most of it Node.js, which Debian's
 * package depends on for the proxy a single-user server never runs) and 30 s of build.
 */
export const BASE_PACKAGES = [
  'jupyter-notebook',
  'python3-ipykernel',
  'git',
  'ca-certificates',
  'jupyterhub',
] as const;

export interface RootfsRecipe {
  suite: string;
  mirror: string;
  /** Bumped when the way the rootfs is made changes. */
  revision: number;
}

export function rootfsRecipe(mirror = DEFAULT_MIRROR): RootfsRecipe {
  return { suite: DEBIAN_SUITE, mirror, revision: 1 };
}

export function rootfsTag(recipe: RootfsRecipe): string {
  return `sifu/rootfs:${recipe.suite}-${contentHash(recipe)}`;
}

/** The base image's Dockerfile, on top of `from` (the imported rootfs, or a registry image). */
export function baseDockerfile(from: string): string {
  return [
    `FROM ${from}`,
    'ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8',
    'RUN apt-get update -q \\',
    ` && apt-get install -y -q --no-install-recommends ${BASE_PACKAGES.join(' ')} \\`,
    ' && apt-get clean && rm -rf /var/lib/apt/lists/*',
    // Jupyter's runtime files (which hold the token) go here, never into the learner's bind-mounted home.
    'RUN mkdir -p /run/sifu && chmod 700 /run/sifu',
    'ENV JUPYTER_RUNTIME_DIR=/run/sifu',
    `LABEL ${IMAGE_KIND_LABEL}=base`,
    '',
  ].join('\n');
}

export interface CourseSource {
  /** Git URL of the course repository (https). Private ones need `tokenEnv`. */
  repository: string;
  /** Branch or tag. */
  ref?: string;
  /** Name of the environment variable holding a deployment token; it reaches the build as a secret only. */
  tokenEnv?: string;
}

/**
 * The course image's Dockerfile. The token is mounted as a BuildKit secret for the one `RUN` that clones,
 * and git reads it through a credential helper from that file: it is in no layer, no argv, no image
 * history, and the `.git` directory (which could hold remotes with credentials) is removed in the same step.
 */
export function courseDockerfile(base: string, source: CourseSource): string {
  const ref = source.ref ? ` --branch ${shellQuote(source.ref)}` : '';
  const clone = `git clone --depth 1${ref} ${shellQuote(source.repository)} /opt/course`;
  const helper =
    'git -c credential.helper=\'!f() { echo username=x-access-token; printf "password="; cat /run/secrets/course_token; echo; }; f\'';
  const cloneStep = source.tokenEnv
    ? `RUN --mount=type=secret,id=course_token,required=true ${clone.replace(/^git/, helper)}`
    : `RUN ${clone}`;
  return [
    `FROM ${base}`,
    `${cloneStep} && rm -rf /opt/course/.git`,
    `LABEL ${IMAGE_KIND_LABEL}=course`,
    '',
  ].join('\n');
}

/** A short, stable hash of anything JSON-serialisable (recipes, Dockerfiles, the image below). */
export function contentHash(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);
}

export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
