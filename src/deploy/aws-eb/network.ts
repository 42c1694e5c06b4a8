import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DescribeSecurityGroupsCommand,
  DescribeVpcsCommand,
  type IpPermission,
  paginateDescribeSubnets,
  RevokeSecurityGroupIngressCommand,
} from '@aws-sdk/client-ec2';
import type { StepContext } from './context.js';
import { remember } from './deploy-file.js';
import { DeployError } from './errors.js';

export const NFS_PORT = 2049;
export const POSTGRES_PORT = 5432;

export interface Network {
  vpcId: string;
  /** One subnet id per availability zone first, then the rest: what EB and the mount targets use. */
  subnets: { id: string; zone: string }[];
}

/** The VPC the environment runs in: the region's default VPC, and its subnets (paginated). */
export async function findNetwork(ctx: StepContext): Promise<Network> {
  const { ec2 } = ctx.aws;
  const vpcs = await ec2.send(
    new DescribeVpcsCommand({ Filters: [{ Name: 'is-default', Values: ['true'] }] }),
  );
  const vpcId = vpcs.Vpcs?.[0]?.VpcId;
  if (!vpcId) {
    throw new DeployError(
      'network',
      `no default VPC in ${ctx.settings.region}: create one (\`aws ec2 create-default-vpc\`) and run again`,
    );
  }
  const subnets: Network['subnets'] = [];
  for await (const page of paginateDescribeSubnets(
    { client: ec2 },
    { Filters: [{ Name: 'vpc-id', Values: [vpcId] }] },
  )) {
    for (const subnet of page.Subnets ?? []) {
      if (subnet.SubnetId) subnets.push({ id: subnet.SubnetId, zone: subnet.AvailabilityZone ?? '' });
    }
  }
  if (subnets.length === 0) throw new DeployError('network', `the VPC ${vpcId} has no subnets`);
  return { vpcId, subnets };
}

/** An ingress rule: TCP `port` from a security group (`sg-...`) or a CIDR block. */
export interface IngressRule {
  port: number;
  source: string;
}

const ruleKey = (rule: IngressRule) => `${rule.port}<${rule.source}`;

function rulesOf(permissions: IpPermission[]): IngressRule[] {
  const rules: IngressRule[] = [];
  for (const permission of permissions) {
    if (permission.IpProtocol !== 'tcp' || permission.FromPort !== permission.ToPort) continue;
    const port = permission.FromPort ?? 0;
    for (const range of permission.IpRanges ?? [])
      if (range.CidrIp) rules.push({ port, source: range.CidrIp });
    for (const pair of permission.UserIdGroupPairs ?? [])
      if (pair.GroupId) rules.push({ port, source: pair.GroupId });
  }
  return rules;
}

function permissionOf(rule: IngressRule): IpPermission {
  const permission: IpPermission = { IpProtocol: 'tcp', FromPort: rule.port, ToPort: rule.port };
  if (rule.source.startsWith('sg-') || rule.source.startsWith('<')) {
    permission.UserIdGroupPairs = [{ GroupId: rule.source }];
  } else {
    permission.IpRanges = [{ CidrIp: rule.source }];
  }
  return permission;
}

/**
 * The security group `name` of the deployment, made when missing, holding exactly `rules` (it is Sifu's
 * alone: rules it does not want, such as an old port's, are revoked). Resolves to its id.
 */
export async function ensureSecurityGroup(
  ctx: StepContext,
  network: Network,
  name: string,
  description: string,
  rules: (groupId: string) => IngressRule[],
): Promise<string> {
  const { ec2 } = ctx.aws;
  const found = await ec2.send(
    new DescribeSecurityGroupsCommand({
      Filters: [
        { Name: 'group-name', Values: [name] },
        { Name: 'vpc-id', Values: [network.vpcId] },
      ],
    }),
  );
  const existing = found.SecurityGroups?.[0];
  let groupId = existing?.GroupId;
  if (!groupId) {
    ctx.output(`creating the security group ${name}`);
    const made = await ec2.send(
      new CreateSecurityGroupCommand({ GroupName: name, Description: description, VpcId: network.vpcId }),
    );
    groupId = made.GroupId ?? `<${name}>`;
    if (!ctx.dryRun) remember(ctx.created.securityGroups, groupId);
  }
  const wanted = rules(groupId);
  const current = rulesOf(existing?.IpPermissions ?? []);
  const currentKeys = new Set(current.map(ruleKey));
  const wantedKeys = new Set(wanted.map(ruleKey));
  const missing = wanted.filter((rule) => !currentKeys.has(ruleKey(rule)));
  const extra = current.filter((rule) => !wantedKeys.has(ruleKey(rule)));
  if (extra.length > 0) {
    ctx.output(`${name}: closing ${extra.map((rule) => `${rule.port} from ${rule.source}`).join(', ')}`);
    await ec2.send(
      new RevokeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: extra.map(permissionOf) }),
    );
  }
  if (missing.length > 0) {
    ctx.output(`${name}: opening ${missing.map((rule) => `${rule.port} from ${rule.source}`).join(', ')}`);
    await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: groupId,
        IpPermissions: missing.map(permissionOf),
      }),
    );
  }
  return groupId;
}

export interface SecurityGroups {
  loadBalancer: string;
  instances: string;
  /** EFS mount targets and the database, reached from the instances only. */
  data?: string;
}

/**
 * The deployment's security groups: the load balancer open to the world on its listeners; the instances
 * reached on the hub and notebook ports from the load balancer only, and on the relay port from each
 * other only; the data group (with `--efs` or `--database`) open on NFS and PostgreSQL to the instances.
 */
export async function ensureSecurityGroups(ctx: StepContext, network: Network): Promise<SecurityGroups> {
  const { ports } = ctx.settings;
  const prefix = `sifu-${ctx.settings.environment}`;
  const loadBalancer = await ensureSecurityGroup(ctx, network, `${prefix}-alb`, 'Sifu load balancer', () =>
    [...new Set([80, ports.hub, ports.notebook])].map((port) => ({ port, source: '0.0.0.0/0' })),
  );
  const instances = await ensureSecurityGroup(
    ctx,
    network,
    `${prefix}-instances`,
    'Sifu instances',
    (self) => [
      { port: ports.hub, source: loadBalancer },
      { port: ports.notebook, source: loadBalancer },
      { port: ports.relay, source: self },
    ],
  );
  if (!ctx.settings.efs && !ctx.settings.database) return { loadBalancer, instances };
  const data = await ensureSecurityGroup(ctx, network, `${prefix}-data`, 'Sifu EFS and database', () => [
    ...(ctx.settings.efs ? [{ port: NFS_PORT, source: instances }] : []),
    ...(ctx.settings.database ? [{ port: POSTGRES_PORT, source: instances }] : []),
  ]);
  return { loadBalancer, instances, data };
}
