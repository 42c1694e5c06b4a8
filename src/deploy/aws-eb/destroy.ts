import { DeleteSecurityGroupCommand, DescribeSecurityGroupsCommand } from '@aws-sdk/client-ec2';
import { DeleteRepositoryCommand } from '@aws-sdk/client-ecr';
import {
  DeleteFileSystemCommand,
  DeleteMountTargetCommand,
  DescribeMountTargetsCommand,
} from '@aws-sdk/client-efs';
import {
  DeleteApplicationCommand,
  DeleteApplicationVersionCommand,
  DescribeEnvironmentsCommand,
  TerminateEnvironmentCommand,
} from '@aws-sdk/client-elastic-beanstalk';
import { DeleteDBInstanceCommand, DescribeDBInstancesCommand } from '@aws-sdk/client-rds';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { DeleteParameterCommand } from '@aws-sdk/client-ssm';
import type { AwsCall } from './clients.js';
import { type StepContext, waitFor } from './context.js';
import { checkCredentials } from './credentials.js';
import { databasePasswordParameter } from './database.js';
import { readDeployFile, writeDeployFile } from './deploy-file.js';
import { describeEnvironment } from './environment.js';
import { DeployError, isAwsError } from './errors.js';
import { openSession, type SessionDeps } from './session.js';

export interface DestroyOptions {
  directory: string;
  /** Also delete the ECR repositories this deployment made (and their images). */
  images?: boolean;
  /** Also delete the RDS instance (a final snapshot is kept). */
  database?: boolean;
  /** Asks to delete the EFS file system: only done with `yesDeleteEfsData` as well (learners' homes). */
  efs?: boolean;
  yesDeleteEfsData?: boolean;
  dryRun?: boolean;
}

const ignoreMissing = async (promise: Promise<unknown>, ...names: string[]) => {
  try {
    await promise;
  } catch (err) {
    if (!isAwsError(err, ...names)) throw err;
  }
};

async function terminateEnvironment(ctx: StepContext): Promise<void> {
  const env = await describeEnvironment(ctx);
  if (!env) return;
  ctx.output(`terminating the EB environment ${ctx.settings.environment}`);
  await ctx.aws.eb.send(new TerminateEnvironmentCommand({ EnvironmentName: ctx.settings.environment }));
  if (ctx.dryRun) return;
  await waitFor(ctx, `the environment ${ctx.settings.environment} to terminate`, async () => {
    const current = await describeEnvironment(ctx);
    if (!current) return true;
    ctx.output(`environment ${ctx.settings.environment}: ${current.Status}`);
    return undefined;
  });
}

async function deleteDatabase(ctx: StepContext, id: string): Promise<void> {
  ctx.output(`deleting the RDS instance ${id} (a final snapshot ${id}-final is kept)`);
  await ignoreMissing(
    ctx.aws.rds.send(
      new DeleteDBInstanceCommand({
        DBInstanceIdentifier: id,
        SkipFinalSnapshot: false,
        FinalDBSnapshotIdentifier: `${id}-final-${Date.now()}`,
      }),
    ),
    'DBInstanceNotFound',
  );
  if (ctx.dryRun) return;
  await waitFor(ctx, `the database ${id} to be deleted`, async () => {
    try {
      const found = await ctx.aws.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }));
      ctx.output(`database ${id}: ${found.DBInstances?.[0]?.DBInstanceStatus}`);
      return undefined;
    } catch (err) {
      if (isAwsError(err, 'DBInstanceNotFound')) return true;
      throw err;
    }
  });
}

async function deleteFileSystem(ctx: StepContext, id: string): Promise<void> {
  const targets = await ctx.aws.efs.send(new DescribeMountTargetsCommand({ FileSystemId: id }));
  for (const target of targets.MountTargets ?? []) {
    await ctx.aws.efs.send(new DeleteMountTargetCommand({ MountTargetId: target.MountTargetId }));
  }
  if (!ctx.dryRun) {
    await waitFor(ctx, `the mount targets of ${id} to be deleted`, async () => {
      const left = await ctx.aws.efs.send(new DescribeMountTargetsCommand({ FileSystemId: id }));
      return (left.MountTargets ?? []).length === 0 ? true : undefined;
    });
  }
  ctx.output(`deleting the EFS file system ${id} and every home on it`);
  await ctx.aws.efs.send(new DeleteFileSystemCommand({ FileSystemId: id }));
}

/** Deletes Sifu's security groups, the data group first; a group still in use by EB's ENIs is retried. */
async function deleteSecurityGroups(ctx: StepContext, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const found = await ctx.aws.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: ids }));
  const rank = (name = '') => (name.endsWith('-data') ? 0 : name.endsWith('-instances') ? 1 : 2);
  const groups = [...(found.SecurityGroups ?? [])].sort((a, b) => rank(a.GroupName) - rank(b.GroupName));
  const deleted: string[] = [];
  for (const group of groups) {
    ctx.output(`deleting the security group ${group.GroupName}`);
    await waitFor(ctx, `the security group ${group.GroupName} to be free`, async () => {
      try {
        await ctx.aws.ec2.send(new DeleteSecurityGroupCommand({ GroupId: group.GroupId }));
        return true;
      } catch (err) {
        if (isAwsError(err, 'InvalidGroup.NotFound')) return true;
        if (isAwsError(err, 'DependencyViolation')) return undefined;
        throw err;
      }
    });
    if (group.GroupId) deleted.push(group.GroupId);
  }
  return deleted;
}

/**
 * `sifu deploy aws-eb destroy`: removes what the deployment file says the deployment made — the
 * environment, its application versions and their bundles, the application, the token parameter and
 * the security groups; the repositories only with `images`, the database only with `database`, the EFS
 * file system (learners' homes) only with `efs` and `yesDeleteEfsData` both. The IAM roles stay (EB's
 * own, shared by every EB application of the account).
 */
export async function destroyAwsEb(
  options: DestroyOptions,
  deps: SessionDeps,
): Promise<{ calls: AwsCall[] }> {
  const file = readDeployFile(options.directory);
  if (!file)
    throw new DeployError('destroy', `no deployment file in ${options.directory}: nothing known to remove`);
  const { settings, created } = file;
  const dryRun = Boolean(options.dryRun);
  const session = openSession(settings, created, deps, dryRun);
  const { ctx, begin } = session;
  const { aws } = ctx;
  const save = () => {
    if (!dryRun) writeDeployFile(options.directory, { settings, created });
  };
  try {
    begin('credentials');
    ctx.account = (await checkCredentials(aws.sts)).account;

    begin('environment');
    if (created.environment) {
      await terminateEnvironment(ctx);
      if (!dryRun) created.environment = undefined;
    } else {
      ctx.output(`the environment ${settings.environment} was not made by sifu deploy: kept`);
    }

    begin('application versions');
    for (const label of [...created.versions]) {
      await ignoreMissing(
        aws.eb.send(
          new DeleteApplicationVersionCommand({
            ApplicationName: settings.application,
            VersionLabel: label,
            DeleteSourceBundle: false,
          }),
        ),
        'SourceBundleDeletion',
      );
      if (!dryRun) created.versions = created.versions.filter((item) => item !== label);
    }
    for (const object of [...created.objects]) {
      const [bucket, ...key] = object.split('/');
      await aws.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key.join('/') }));
      if (!dryRun) created.objects = created.objects.filter((item) => item !== object);
    }
    if (created.application) {
      // Another environment of the application (not made here) keeps it.
      const others = await aws.eb.send(
        new DescribeEnvironmentsCommand({ ApplicationName: created.application, IncludeDeleted: false }),
      );
      const live = (others.Environments ?? []).filter(
        (env) => env.Status !== 'Terminated' && env.EnvironmentName !== settings.environment,
      );
      if (live.length > 0) {
        ctx.output(
          `the EB application ${created.application} is kept: ${live.map((env) => env.EnvironmentName).join(', ')} still run in it`,
        );
      } else {
        ctx.output(`deleting the EB application ${created.application}`);
        await aws.eb.send(new DeleteApplicationCommand({ ApplicationName: created.application }));
        if (!dryRun) created.application = undefined;
      }
    }

    begin('ECR repositories');
    if (options.images) {
      for (const name of [...created.repositories]) {
        ctx.output(`deleting the ECR repository ${name} and its images`);
        await ignoreMissing(
          aws.ecr.send(new DeleteRepositoryCommand({ repositoryName: name, force: true })),
          'RepositoryNotFound',
        );
        if (!dryRun) created.repositories = created.repositories.filter((item) => item !== name);
      }
    } else if (created.repositories.length > 0) {
      ctx.output(`ECR repositories kept (${created.repositories.join(', ')}): add --images to delete them`);
    }

    begin('database');
    if (created.database && options.database) {
      await deleteDatabase(ctx, created.database);
      await ignoreMissing(
        aws.ssm.send(new DeleteParameterCommand({ Name: databasePasswordParameter(ctx) })),
        'ParameterNotFound',
      );
      if (!dryRun) {
        created.database = undefined;
        created.parameters = created.parameters.filter((name) => name !== databasePasswordParameter(ctx));
      }
    } else if (created.database) {
      ctx.output(
        `the database ${created.database} is kept: add --database to delete it (a final snapshot is kept)`,
      );
    }

    begin('EFS');
    if (created.fileSystem && options.efs && options.yesDeleteEfsData) {
      await deleteFileSystem(ctx, created.fileSystem);
      if (!dryRun) created.fileSystem = undefined;
    } else if (created.fileSystem) {
      ctx.output(
        `the EFS file system ${created.fileSystem} holds learners' homes and is kept: to delete it and all their files, add --efs --yes-delete-efs-data`,
      );
    }

    begin('parameters and security groups');
    for (const name of created.parameters.filter((item) => item === settings.tokenParameter)) {
      await ignoreMissing(aws.ssm.send(new DeleteParameterCommand({ Name: name })), 'ParameterNotFound');
      if (!dryRun) created.parameters = created.parameters.filter((item) => item !== name);
    }
    if (created.database || created.fileSystem) {
      ctx.output('security groups kept: the database or the file system still uses them');
    } else {
      const deleted = await deleteSecurityGroups(ctx, created.securityGroups);
      if (!dryRun) created.securityGroups = created.securityGroups.filter((id) => !deleted.includes(id));
    }
    save();
    return { calls: session.calls };
  } catch (err) {
    save();
    if (err instanceof DeployError) throw err;
    throw new DeployError(session.step, (err as Error).message, { cause: err });
  }
}
