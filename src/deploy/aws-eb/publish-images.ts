import Docker from 'dockerode';
import { CONTENT_HASH_LABEL } from '../../image/recipe.js';
import { type ImagePublisher, type RegistryLogin, RegistryLoginExpiredError } from './images.js';
import type { DeployImages } from './settings.js';

/**
 * The real `ImagePublisher`: Sifu's image and the notebook image tagged into the registry a login names
 * (ECR in production) and pushed through the Engine API. The password travels only in the API's
 * `X-Registry-Auth` header (dockerode's `authconfig`), never in a process argument or a file.
 */

export interface PublishImagesOptions {
  /** The engine (default: the local socket). */
  docker?: Docker;
  /**
   * Builds what is out of date and resolves to the local tags to publish (`buildSifuImage` and
   * `buildImages`: each reuses an image whose content hash is unchanged).
   */
  localImages: () => Promise<DeployImages>;
  onProgress?: (line: string) => void;
}

export class ImagePushError extends Error {
  override name = 'ImagePushError';
}

/** `https://host[:port]` (ECR's endpoint) or a bare `host[:port]` -> `host[:port]`. */
export function registryHost(endpoint: string): string {
  return endpoint.replace(/^https?:\/\//, '').replace(/\/+$/, '');
}

function authOf(login: RegistryLogin) {
  return { username: login.username, password: login.password, serveraddress: registryHost(login.endpoint) };
}

const REFUSED = /\b401\b|unauthorized|authentication required|no basic auth credentials/i;

function messageOf(err: unknown): string {
  const e = err as { json?: { message?: string }; message?: string };
  return e?.json?.message ?? e?.message ?? String(err);
}

/** The remote tag: the image's content hash (images are rebuilt only when their recipe changes). */
async function remoteTag(docker: Docker, local: string): Promise<string> {
  const info = await docker.getImage(local).inspect();
  const hash = info.Config?.Labels?.[CONTENT_HASH_LABEL];
  return hash ?? info.Id.replace(/^sha256:/, '').slice(0, 16);
}

async function push(docker: Docker, reference: string, login: RegistryLogin): Promise<void> {
  const [name, tag] = splitReference(reference);
  const image = docker.getImage(name);
  let stream: NodeJS.ReadableStream;
  try {
    stream = (await image.push({ tag, authconfig: authOf(login) })) as NodeJS.ReadableStream;
  } catch (err) {
    const message = `pushing ${reference} failed: ${messageOf(err)}`;
    throw REFUSED.test(message) ? new RegistryLoginExpiredError(message) : new ImagePushError(message);
  }
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (err: Error | null, events: Array<{ error?: string; errorDetail?: { message?: string } }>) => {
        const failed = events?.find((event) => event.error || event.errorDetail);
        if (!err && !failed) return resolve();
        const message = `pushing ${reference} failed: ${err ? messageOf(err) : (failed?.errorDetail?.message ?? failed?.error)}`;
        reject(REFUSED.test(message) ? new RegistryLoginExpiredError(message) : new ImagePushError(message));
      },
    );
  });
}

/** `host:port/name:tag` -> [`host:port/name`, `tag`] (a port's colon is not a tag's). */
export function splitReference(reference: string): [string, string] {
  const slash = reference.lastIndexOf('/');
  const colon = reference.lastIndexOf(':');
  if (colon > slash) return [reference.slice(0, colon), reference.slice(colon + 1)];
  return [reference, 'latest'];
}

export function createImagePublisher(options: PublishImagesOptions): ImagePublisher {
  const docker = options.docker ?? new Docker();
  const say = options.onProgress ?? (() => {});
  return {
    async publish(login, repositories) {
      // `docker login`, through the Engine API: a wrong password fails here, before anything is tagged.
      try {
        await docker.checkAuth(authOf(login));
      } catch (err) {
        throw new RegistryLoginExpiredError(
          `login to ${registryHost(login.endpoint)} as ${login.username} refused: ${messageOf(err)}`,
        );
      }
      const local = await options.localImages();
      const published: DeployImages = { sifu: '', notebook: '' };
      for (const which of ['sifu', 'notebook'] as const) {
        const repository = repositories[which].includes('/')
          ? repositories[which]
          : `${registryHost(login.endpoint)}/${repositories[which]}`;
        const reference = `${repository}:${await remoteTag(docker, local[which])}`;
        const [repo, tag] = splitReference(reference);
        await docker.getImage(local[which]).tag({ repo, tag });
        say(`pushing ${reference}`);
        await push(docker, reference, login);
        published[which] = reference;
      }
      return published;
    },
  };
}

/**
 * The publisher `sifu deploy aws-eb` uses: Sifu's image from this package (`dist/` must be built) and
 * the offline notebook base image, each rebuilt only when its content hash changed, then pushed.
 */
export function defaultImagePublisher(onProgress: (line: string) => void = console.log): ImagePublisher {
  return createImagePublisher({
    onProgress,
    localImages: async () => {
      const { buildImages } = await import('../../image/build-images.js');
      const { buildSifuImage } = await import('../../image/sifu-image.js');
      const { packageRoot } = await import('../../spawner/assets.js');
      const notebook = await buildImages({ onProgress });
      const sifu = await buildSifuImage({ packageRoot: packageRoot(), onProgress });
      return { sifu: sifu.tag, notebook: notebook.base };
    },
  });
}
