/** What the deploy and destroy tests share: a fake AWS, a fake image publisher and bundle writer. */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BundleWriter } from '../bundle-writer.js';
import { type DeployOptions, type DeployResult, deployAwsEb } from '../deploy.js';
import { type DestroyOptions, destroyAwsEb } from '../destroy.js';
import {
  type DeployRepositories,
  type ImagePublisher,
  type RegistryLogin,
  RegistryLoginExpiredError,
} from '../images.js';
import { noPrompt, type Prompt } from '../prompt.js';
import type { DeployImages, DeploySettings } from '../settings.js';
import { FakeAws } from './fake-aws.js';

/** A publisher that "pushes" at once; `refuseLogins` first logins are refused as expired. */
export class FakePublisher implements ImagePublisher {
  logins: RegistryLogin[] = [];
  refuseLogins = 0;
  async publish(login: RegistryLogin, repositories: DeployRepositories): Promise<DeployImages> {
    this.logins.push(login);
    if (this.refuseLogins > 0) {
      this.refuseLogins -= 1;
      throw new RegistryLoginExpiredError(`login to ${login.endpoint} refused: 401 Unauthorized`);
    }
    return { sifu: `${repositories.sifu}:c0ffee`, notebook: `${repositories.notebook}:beef` };
  }
}

/** A bundle writer whose zip (and hash) is the settings and images as JSON. */
export function fakeBundleWriter(directory: string): BundleWriter & { written: DeploySettings[] } {
  const written: DeploySettings[] = [];
  return {
    written,
    async write(settings, images) {
      written.push(structuredClone(settings));
      const content = JSON.stringify({ settings, images });
      const zip = join(directory, 'bundle.zip');
      writeFileSync(zip, content);
      return { zip, hash: createHash('sha256').update(content).digest('hex') };
    },
  };
}

export interface Harness {
  fake: FakeAws;
  publisher: FakePublisher;
  directory: string;
  lines: string[];
  deploy(
    options?: Partial<DeployOptions>,
    extra?: { env?: NodeJS.ProcessEnv; prompt?: Prompt },
  ): Promise<DeployResult>;
  destroy(options?: Partial<DestroyOptions>): Promise<unknown>;
  close(): void;
}

export const TOKEN = 'ghp_secretDeploymentToken123';

export function harness(): Harness {
  const fake = new FakeAws().install();
  const publisher = new FakePublisher();
  const directory = mkdtempSync(join(tmpdir(), 'sifu-deploy-'));
  const lines: string[] = [];
  const bundle = fakeBundleWriter(directory);
  const common = {
    aws: fake.clients(),
    output: (line: string) => lines.push(line),
    sleep: async () => {},
    pollMs: 0,
    retryBaseMs: 0,
    waitTimeoutMs: 60_000,
  };
  return {
    fake,
    publisher,
    directory,
    lines,
    deploy: (options = {}, extra = {}) =>
      deployAwsEb(
        { directory, yes: true, ...options },
        {
          ...common,
          images: publisher,
          bundle,
          prompt: extra.prompt ?? noPrompt,
          env: extra.env ?? { DEPLOYMENT_TOKEN: TOKEN },
        },
      ),
    destroy: (options = {}) => destroyAwsEb({ directory, ...options }, common),
    close() {
      fake.restore();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
