import {
  CreateFileSystemCommand,
  CreateMountTargetCommand,
  DescribeFileSystemsCommand,
  DescribeMountTargetsCommand,
  type FileSystemDescription,
  type MountTargetDescription,
} from '@aws-sdk/client-efs';
import { type StepContext, tags, waitFor } from './context.js';
import { DeployError } from './errors.js';
import type { Network } from './network.js';

export const efsCreationToken = (ctx: StepContext) => `sifu-${ctx.settings.environment}`;

async function findFileSystem(ctx: StepContext, token: string): Promise<FileSystemDescription | undefined> {
  const found = await ctx.aws.efs.send(new DescribeFileSystemsCommand({ CreationToken: token }));
  return found.FileSystems?.[0];
}

async function mountTargets(ctx: StepContext, fileSystemId: string): Promise<MountTargetDescription[]> {
  const targets: MountTargetDescription[] = [];
  let Marker: string | undefined;
  do {
    const page = await ctx.aws.efs.send(
      new DescribeMountTargetsCommand({ FileSystemId: fileSystemId, Marker }),
    );
    targets.push(...(page.MountTargets ?? []));
    Marker = page.NextMarker;
  } while (Marker);
  return targets;
}

/**
 * `--efs`: the encrypted EFS file system holding learners' homes, reused or created and waited for, with
 * a mount target in the data security group (NFS from the instances only) in each availability zone of
 * the environment's VPC (EFS allows one per zone: the zone's first subnet), also waited for.
 */
export async function ensureFileSystem(
  ctx: StepContext,
  network: Network,
  dataSecurityGroup: string,
): Promise<string> {
  const token = efsCreationToken(ctx);
  let fileSystem = await findFileSystem(ctx, token);
  if (!fileSystem) {
    ctx.output(`creating the EFS file system ${token}`);
    const made = await ctx.aws.efs.send(
      new CreateFileSystemCommand({
        CreationToken: token,
        Encrypted: true,
        PerformanceMode: 'generalPurpose',
        Tags: [{ Key: 'Name', Value: token }, ...tags(ctx)],
      }),
    );
    if (ctx.dryRun) return `<${token}>`;
    ctx.created.fileSystem = made.FileSystemId;
  }
  fileSystem = await waitFor(ctx, `the file system ${token}`, async () => {
    const current = await findFileSystem(ctx, token);
    if (current?.LifeCycleState === 'available') return current;
    if (current?.LifeCycleState === 'error') throw new DeployError('efs', `the file system ${token} failed`);
    ctx.output(`file system ${token}: ${current?.LifeCycleState ?? 'not found yet'}`);
    return undefined;
  });
  const id = fileSystem.FileSystemId as string;
  const existing = await mountTargets(ctx, id);
  const zones = new Set(existing.map((target) => target.AvailabilityZoneName));
  const subnetsWithTarget = new Set(existing.map((target) => target.SubnetId));
  for (const subnet of network.subnets) {
    if (zones.has(subnet.zone) || subnetsWithTarget.has(subnet.id)) continue;
    zones.add(subnet.zone);
    ctx.output(`creating an EFS mount target in ${subnet.id} (${subnet.zone})`);
    await ctx.aws.efs.send(
      new CreateMountTargetCommand({
        FileSystemId: id,
        SubnetId: subnet.id,
        SecurityGroups: [dataSecurityGroup],
      }),
    );
  }
  if (!ctx.dryRun) {
    await waitFor(ctx, `the mount targets of ${id}`, async () => {
      const targets = await mountTargets(ctx, id);
      const pending = targets.filter((target) => target.LifeCycleState !== 'available');
      if (pending.length === 0) return targets;
      ctx.output(`mount targets of ${id}: ${pending.length} not available yet`);
      return undefined;
    });
  }
  return id;
}
