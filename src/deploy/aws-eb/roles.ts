import {
  AddRoleToInstanceProfileCommand,
  AttachRolePolicyCommand,
  CreateInstanceProfileCommand,
  CreateRoleCommand,
  GetInstanceProfileCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  PutRolePolicyCommand,
  paginateListAttachedRolePolicies,
} from '@aws-sdk/client-iam';
import type { StepContext } from './context.js';
import { isAwsError } from './errors.js';

export const INSTANCE_ROLE = 'aws-elasticbeanstalk-ec2-role';
export const SERVICE_ROLE = 'aws-elasticbeanstalk-service-role';
const MANAGED = 'arn:aws:iam::aws:policy';

/** The managed policies the EB CLI gives its roles, plus registry pulls for the instances. */
export const INSTANCE_POLICIES = [
  `${MANAGED}/AWSElasticBeanstalkWebTier`,
  `${MANAGED}/AWSElasticBeanstalkMulticontainerDocker`,
  `${MANAGED}/AWSElasticBeanstalkWorkerTier`,
  `${MANAGED}/AmazonEC2ContainerRegistryReadOnly`,
];
export const SERVICE_POLICIES = [
  `${MANAGED}/service-role/AWSElasticBeanstalkEnhancedHealth`,
  `${MANAGED}/AWSElasticBeanstalkManagedUpdatesCustomerRolePolicy`,
];
/** The inline policy letting instances read the deployment token (and the database password). */
export const PARAMETER_POLICY = 'sifu-read-parameters';

const trust = (service: string) =>
  JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { Service: service }, Action: 'sts:AssumeRole' }],
  });

async function ensureRole(ctx: StepContext, name: string, service: string, policies: string[]) {
  const { iam } = ctx.aws;
  let exists = true;
  try {
    await iam.send(new GetRoleCommand({ RoleName: name }));
  } catch (err) {
    if (!isAwsError(err, 'NoSuchEntity')) throw err;
    exists = false;
    ctx.output(`creating the IAM role ${name}`);
    await iam.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: trust(service) }));
  }
  const attached = new Set<string>();
  if (exists) {
    for await (const page of paginateListAttachedRolePolicies({ client: iam }, { RoleName: name })) {
      for (const policy of page.AttachedPolicies ?? []) if (policy.PolicyArn) attached.add(policy.PolicyArn);
    }
  }
  for (const arn of policies.filter((policy) => !attached.has(policy))) {
    ctx.output(`attaching ${arn.split('/').pop()} to ${name}`);
    await iam.send(new AttachRolePolicyCommand({ RoleName: name, PolicyArn: arn }));
  }
}

/** The ARNs of the SSM parameters the instances read at start. */
export function parameterArns(ctx: StepContext, names: string[]): string[] {
  return names.map(
    (name) => `arn:aws:ssm:${ctx.settings.region}:${ctx.account}:parameter/${name.replace(/^\//, '')}`,
  );
}

/**
 * Steps 2-3 (the roles' part): the EB instance role and its instance profile, and the EB service role,
 * made as the EB CLI makes them when missing; the instance role may pull from ECR and read the parameters.
 */
export async function ensureRoles(
  ctx: StepContext,
  parameters: string[],
): Promise<{ instanceRoleArn: string }> {
  const { iam } = ctx.aws;
  await ensureRole(ctx, INSTANCE_ROLE, 'ec2.amazonaws.com', INSTANCE_POLICIES);
  await ensureRole(ctx, SERVICE_ROLE, 'elasticbeanstalk.amazonaws.com', SERVICE_POLICIES);

  const document = JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: ['ssm:GetParameter'], Resource: parameterArns(ctx, parameters) }],
  });
  let current: string | undefined;
  try {
    const policy = await iam.send(
      new GetRolePolicyCommand({ RoleName: INSTANCE_ROLE, PolicyName: PARAMETER_POLICY }),
    );
    current = policy.PolicyDocument ? decodeURIComponent(policy.PolicyDocument) : undefined;
  } catch (err) {
    if (!isAwsError(err, 'NoSuchEntity')) throw err;
  }
  if (current !== document) {
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: INSTANCE_ROLE,
        PolicyName: PARAMETER_POLICY,
        PolicyDocument: document,
      }),
    );
  }

  try {
    const profile = await iam.send(new GetInstanceProfileCommand({ InstanceProfileName: INSTANCE_ROLE }));
    if (!profile.InstanceProfile?.Roles?.some((role) => role.RoleName === INSTANCE_ROLE)) {
      await iam.send(
        new AddRoleToInstanceProfileCommand({ InstanceProfileName: INSTANCE_ROLE, RoleName: INSTANCE_ROLE }),
      );
    }
  } catch (err) {
    if (!isAwsError(err, 'NoSuchEntity')) throw err;
    ctx.output(`creating the instance profile ${INSTANCE_ROLE}`);
    await iam.send(new CreateInstanceProfileCommand({ InstanceProfileName: INSTANCE_ROLE }));
    await iam.send(
      new AddRoleToInstanceProfileCommand({ InstanceProfileName: INSTANCE_ROLE, RoleName: INSTANCE_ROLE }),
    );
  }
  return { instanceRoleArn: `arn:aws:iam::${ctx.account}:role/${INSTANCE_ROLE}` };
}
