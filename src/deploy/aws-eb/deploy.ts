import type { BundleWriter } from './bundle-writer.js';
import type { AwsCall } from './clients.js';
import { checkCredentials } from './credentials.js';
import { type Database, databasePasswordParameter, ensureDatabase } from './database.js';
import {
  type CreatedResources,
  type DeployFile,
  NOTHING_CREATED,
  readDeployFile,
  writeDeployFile,
} from './deploy-file.js';
import { ensureFileSystem } from './efs.js';
import { deployEnvironment, ensureApplication, ensureVersion, versionExists } from './environment.js';
import { DeployError } from './errors.js';
import type { ImagePublisher } from './images.js';
import { ensureSecurityGroups, findNetwork } from './network.js';
import { optionSettings } from './options.js';
import type { Prompt } from './prompt.js';
import { ensureRepositories, publishImages } from './registry.js';
import { ensureRoles } from './roles.js';
import { openSession, type SessionDeps } from './session.js';
import { DEFAULT_SETTINGS, type DeploySettings } from './settings.js';
import { storageBucket, uploadBundle } from './storage.js';
import { ensureDeploymentToken, localToken } from './token.js';

/** The command's flags; anything unset comes from the deployment file, a question, or the default. */
export interface DeployOptions {
  /** Where the deployment file and `.deployment_token` are (the current directory). */
  directory: string;
  region?: string;
  registryRegion?: string;
  app?: string;
  env?: string;
  hubPort?: number;
  notebookPort?: number;
  relayPort?: number;
  database?: boolean;
  efs?: boolean;
  dryRun?: boolean;
  /** Ask nothing: defaults for whatever no flag or saved setting gives. */
  yes?: boolean;
  /** Deploy this existing application version instead of building one (a roll back). */
  versionLabel?: string;
}

export interface DeployDeps extends SessionDeps {
  images: ImagePublisher;
  bundle: BundleWriter;
  prompt: Prompt;
  env?: NodeJS.ProcessEnv;
}

const DEFAULT_APPLICATION = 'sifu';
const DEFAULT_ENVIRONMENT = 'sifu-env';

function port(value: string, what: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1 || number > 65535) {
    throw new DeployError('settings', `${what} must be a port (1-65535), got '${value}'`);
  }
  return number;
}

/** Flags first, then the saved deployment, then (on a terminal, without --yes) a question, then defaults. */
export async function resolveSettings(
  options: DeployOptions,
  saved: DeploySettings | undefined,
  prompt: Prompt,
): Promise<DeploySettings> {
  const base: DeploySettings = saved ?? {
    ...DEFAULT_SETTINGS,
    application: DEFAULT_APPLICATION,
    environment: DEFAULT_ENVIRONMENT,
  };
  const ask = async (
    flag: string | number | undefined,
    known: boolean,
    question: string,
    fallback: string,
  ) => {
    if (flag !== undefined) return String(flag);
    if (known || options.yes) return fallback;
    return prompt.ask(question, fallback);
  };
  const first = saved === undefined;
  return {
    ...base,
    region: options.region ?? base.region,
    registryRegion: options.registryRegion ?? base.registryRegion,
    application: await ask(options.app, !first, 'EB application', base.application),
    environment: await ask(options.env, !first, 'EB environment', base.environment),
    ports: {
      hub: port(await ask(options.hubPort, !first, 'Hub port', String(base.ports.hub)), '--hub-port'),
      notebook: port(
        await ask(options.notebookPort, !first, 'Notebook port', String(base.ports.notebook)),
        '--notebook-port',
      ),
      relay: port(String(options.relayPort ?? base.ports.relay), '--relay-port'),
    },
    database: Boolean(options.database) || base.database,
    efs: Boolean(options.efs) || base.efs,
  };
}

export interface DeployResult {
  settings: DeploySettings;
  label: string;
  /** Whether the environment was created or updated (false: it already ran this). */
  changed: boolean;
  url?: string;
  /** In a dry run, every mutating call that would have been made. */
  calls: AwsCall[];
}

/**
 * `sifu deploy aws-eb`: every step from credentials to a Ready environment (issue 11). A dry run sends
 * the reads and prints each mutating call (service, action, input with secrets masked) instead of sending it.
 */
export async function deployAwsEb(options: DeployOptions, deps: DeployDeps): Promise<DeployResult> {
  const saved = readDeployFile(options.directory);
  const settings = await resolveSettings(options, saved?.settings, deps.prompt);
  const created: CreatedResources = structuredClone(saved?.created ?? NOTHING_CREATED);
  const dryRun = Boolean(options.dryRun);
  const session = openSession(settings, created, deps, dryRun);
  const { ctx, calls, begin } = session;
  const { aws, secrets, output } = ctx;
  const save = () => {
    if (!dryRun) writeDeployFile(options.directory, { settings, created } satisfies DeployFile);
  };
  const token = localToken(deps.env ?? process.env, options.directory);
  if (token) secrets.add(token);

  try {
    begin('credentials');
    const identity = await checkCredentials(aws.sts);
    ctx.account = identity.account;
    output(`account ${identity.account} as ${identity.arn}`);

    begin('IAM roles');
    const parameters = [
      settings.tokenParameter,
      ...(settings.database ? [databasePasswordParameter(ctx)] : []),
    ];
    const { instanceRoleArn } = await ensureRoles(ctx, parameters);

    begin('deployment token');
    await ensureDeploymentToken(ctx, token, deps.prompt);

    begin('network');
    const network = await findNetwork(ctx);
    const groups = await ensureSecurityGroups(ctx, network);

    let database: Database | undefined;
    let fileSystemId: string | undefined;
    if (settings.database && groups.data) {
      begin('database');
      database = await ensureDatabase(ctx, groups.data);
    }
    if (settings.efs && groups.data) {
      begin('EFS');
      fileSystemId = await ensureFileSystem(ctx, network, groups.data);
    }

    begin('application');
    await ensureApplication(ctx);

    let label: string;
    if (options.versionLabel) {
      label = options.versionLabel;
      if (!(await versionExists(ctx, label))) {
        throw new DeployError('application', `no application version ${label} in ${settings.application}`);
      }
    } else {
      begin('ECR repositories');
      const repositories = await ensureRepositories(ctx, instanceRoleArn);
      begin('images');
      const images = await publishImages(ctx, deps.images, repositories);
      begin('bundle');
      const bundle = await deps.bundle.write(settings, images);
      label = `sifu-${bundle.hash.slice(0, 16)}`;
      const bucket = await storageBucket(ctx);
      const key = await uploadBundle(ctx, bucket, label, bundle.zip);
      await ensureVersion(ctx, label, bucket, key);
    }

    begin('environment');
    const { env, changed } = await deployEnvironment(
      ctx,
      label,
      optionSettings(settings, { network, groups, database, fileSystemId }),
    );
    save();
    const url = env?.CNAME ? `http://${env.CNAME}/` : undefined;
    if (env) {
      output(
        `environment ${settings.environment}: ${env.Status}, health ${env.Health ?? 'unknown'} (${env.HealthStatus ?? ''})`,
      );
      if (env.CNAME) {
        output(`hub: ${url} (and http://${env.CNAME}:${settings.ports.hub}/)`);
        output(`notebooks: http://${env.CNAME}:${settings.ports.notebook}/`);
      }
    }
    if (dryRun) output(`[dry run] ${calls.length} call(s) would change something; nothing was changed`);
    return { settings, label, changed, url, calls };
  } catch (err) {
    // Past the credentials, the settings and whatever was made are kept (destroy needs them); before,
    // nothing is written, so the next run still asks its questions.
    if (ctx.account) save();
    if (err instanceof DeployError) throw err;
    throw new DeployError(session.step, (err as Error).message, { cause: err });
  }
}
