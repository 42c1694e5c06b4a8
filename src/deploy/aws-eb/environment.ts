import {
  type ConfigurationOptionSetting,
  CreateApplicationCommand,
  CreateApplicationVersionCommand,
  CreateEnvironmentCommand,
  DescribeApplicationsCommand,
  DescribeApplicationVersionsCommand,
  DescribeConfigurationSettingsCommand,
  DescribeEnvironmentsCommand,
  type EnvironmentDescription,
  type EventDescription,
  ListAvailableSolutionStacksCommand,
  paginateDescribeEvents,
  UpdateEnvironmentCommand,
} from '@aws-sdk/client-elastic-beanstalk';
import { retryWhile, type StepContext, tags, waitFor } from './context.js';
import { remember } from './deploy-file.js';
import { DeployError, isAwsError } from './errors.js';
import { changedOptions } from './options.js';

/** EB's platform: "Docker running on 64bit Amazon Linux 2023" (the newest version listed). */
export const PLATFORM = /^64bit Amazon Linux 2023 .*running Docker$/;

/** EB refusing a role or instance profile IAM made moments ago (it is not visible to EB yet). */
const notYetPropagated = (err: unknown) =>
  isAwsError(err, 'InvalidParameterValue') && /instance ?profile|role/i.test((err as Error).message);

/** Step 8: the EB application, used or created. */
export async function ensureApplication(ctx: StepContext): Promise<void> {
  const name = ctx.settings.application;
  const found = await ctx.aws.eb.send(new DescribeApplicationsCommand({ ApplicationNames: [name] }));
  if (found.Applications?.length) return;
  ctx.output(`creating the EB application ${name}`);
  await ctx.aws.eb.send(
    new CreateApplicationCommand({ ApplicationName: name, Description: 'Sifu', Tags: tags(ctx) }),
  );
  if (!ctx.dryRun) ctx.created.application = name;
}

/** Whether the application holds the version `label`. */
export async function versionExists(ctx: StepContext, label: string): Promise<boolean> {
  const found = await ctx.aws.eb.send(
    new DescribeApplicationVersionsCommand({
      ApplicationName: ctx.settings.application,
      VersionLabels: [label],
    }),
  );
  return (found.ApplicationVersions ?? []).length > 0;
}

/** The application version `label` of the uploaded bundle, reused when it exists. */
export async function ensureVersion(
  ctx: StepContext,
  label: string,
  bucket: string,
  key: string,
): Promise<void> {
  if (await versionExists(ctx, label)) return;
  ctx.output(`creating the application version ${label}`);
  await ctx.aws.eb.send(
    new CreateApplicationVersionCommand({
      ApplicationName: ctx.settings.application,
      VersionLabel: label,
      Description: 'sifu deploy aws-eb',
      SourceBundle: { S3Bucket: bucket, S3Key: key },
    }),
  );
  if (!ctx.dryRun) remember(ctx.created.versions, label);
}

export async function describeEnvironment(ctx: StepContext): Promise<EnvironmentDescription | undefined> {
  const found = await ctx.aws.eb.send(
    new DescribeEnvironmentsCommand({
      ApplicationName: ctx.settings.application,
      EnvironmentNames: [ctx.settings.environment],
      IncludeDeleted: false,
    }),
  );
  return found.Environments?.find((env) => env.Status !== 'Terminated');
}

async function solutionStack(ctx: StepContext): Promise<string> {
  const found = await ctx.aws.eb.send(new ListAvailableSolutionStacksCommand({}));
  const stack = (found.SolutionStacks ?? []).find((name) => PLATFORM.test(name));
  if (!stack)
    throw new DeployError(
      'environment',
      `no "Docker running on 64bit Amazon Linux 2023" platform in ${ctx.settings.region}`,
    );
  return stack;
}

/** A printer of the environment's events since `since`, each once, oldest first. */
function eventPrinter(ctx: StepContext, since: Date) {
  const seen = new Set<string>();
  const all: EventDescription[] = [];
  return {
    all,
    async print(): Promise<void> {
      const fresh: EventDescription[] = [];
      for await (const page of paginateDescribeEvents(
        { client: ctx.aws.eb },
        {
          ApplicationName: ctx.settings.application,
          EnvironmentName: ctx.settings.environment,
          StartTime: since,
        },
      )) {
        for (const event of page.Events ?? []) {
          const key = `${event.EventDate?.toISOString()}|${event.Message}`;
          if (seen.has(key)) continue;
          seen.add(key);
          fresh.push(event);
        }
      }
      fresh.sort((a, b) => (a.EventDate?.getTime() ?? 0) - (b.EventDate?.getTime() ?? 0));
      for (const event of fresh) {
        all.push(event);
        ctx.output(
          `  ${event.EventDate?.toISOString() ?? ''} ${event.Severity ?? 'INFO'} ${event.Message ?? ''}`,
        );
      }
    },
  };
}

/**
 * Waits until the environment is Ready, printing its events as they come; fails (with the events that
 * went wrong) when it ends Terminated, Red, on another version, or with an ERROR event.
 */
async function waitForEnvironment(
  ctx: StepContext,
  since: Date,
  label: string,
): Promise<EnvironmentDescription> {
  const events = eventPrinter(ctx, since);
  let lastStatus = '';
  const env = await waitFor(ctx, `the environment ${ctx.settings.environment}`, async () => {
    await events.print();
    const current = await describeEnvironment(ctx);
    if (!current) return { Status: 'Terminated' } as EnvironmentDescription;
    if (current.Status !== lastStatus)
      ctx.output(`environment ${ctx.settings.environment}: ${current.Status}`);
    lastStatus = current.Status ?? '';
    return current.Status === 'Ready' ? current : undefined;
  });
  await events.print();
  const errors = events.all.filter((event) => event.Severity === 'ERROR' || event.Severity === 'FATAL');
  if (
    env.Status === 'Terminated' ||
    env.Health === 'Red' ||
    env.VersionLabel !== label ||
    errors.length > 0
  ) {
    const shown = errors.length > 0 ? errors : events.all.filter((event) => event.Severity === 'WARN');
    for (const event of shown) ctx.output(`FAILED: ${event.Severity} ${event.Message}`);
    throw new DeployError(
      'deploy',
      `the environment ${ctx.settings.environment} did not take ${label} (status ${env.Status}, health ${env.Health ?? 'unknown'}, running ${env.VersionLabel ?? 'nothing'}): see the events above; roll back with --version-label <an older label>`,
    );
  }
  return env;
}

/**
 * Steps 9 and 14: the environment created with `options` and `label`, or updated with what differs; a
 * run where nothing differs sends nothing. Resolves to the ready environment (or undefined in a dry run).
 */
export async function deployEnvironment(
  ctx: StepContext,
  label: string,
  options: ConfigurationOptionSetting[],
): Promise<{ env?: EnvironmentDescription; changed: boolean }> {
  const { eb } = ctx.aws;
  const { application, environment } = ctx.settings;
  let env = await describeEnvironment(ctx);
  if (env && env.Status !== 'Ready' && !ctx.dryRun) {
    ctx.output(`environment ${environment} is ${env.Status}: waiting for it to be Ready first`);
    env = await waitFor(ctx, `the environment ${environment}`, async () => {
      const current = await describeEnvironment(ctx);
      return !current || current.Status === 'Ready' ? (current ?? ({} as EnvironmentDescription)) : undefined;
    });
    if (!env.EnvironmentName) env = undefined;
  }
  const since = new Date();
  if (!env) {
    const stack = await solutionStack(ctx);
    ctx.output(`creating the EB environment ${environment} (${stack})`);
    await retryWhile(ctx, notYetPropagated, () =>
      eb.send(
        new CreateEnvironmentCommand({
          ApplicationName: application,
          EnvironmentName: environment,
          SolutionStackName: stack,
          VersionLabel: label,
          OptionSettings: options,
          Tags: tags(ctx),
        }),
      ),
    );
    if (!ctx.dryRun) ctx.created.environment = environment;
  } else {
    const config = await eb.send(
      new DescribeConfigurationSettingsCommand({
        ApplicationName: application,
        EnvironmentName: environment,
      }),
    );
    const changes = changedOptions(options, config.ConfigurationSettings?.[0]?.OptionSettings ?? []);
    if (env.VersionLabel === label && changes.length === 0) {
      ctx.output(`environment ${environment} already runs ${label} with these settings: nothing to update`);
      return { env, changed: false };
    }
    ctx.output(
      `updating ${environment}: ${env.VersionLabel === label ? '' : `version ${env.VersionLabel} → ${label}; `}${changes.length} option(s)`,
    );
    await eb.send(
      new UpdateEnvironmentCommand({
        ApplicationName: application,
        EnvironmentName: environment,
        VersionLabel: label,
        OptionSettings: changes.length > 0 ? changes : undefined,
      }),
    );
  }
  if (ctx.dryRun) return { changed: true };
  return { env: await waitForEnvironment(ctx, since, label), changed: true };
}
