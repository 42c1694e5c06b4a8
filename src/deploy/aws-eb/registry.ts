import {
  CreateRepositoryCommand,
  DescribeRepositoriesCommand,
  GetAuthorizationTokenCommand,
  GetRepositoryPolicyCommand,
  SetRepositoryPolicyCommand,
} from '@aws-sdk/client-ecr';
import type { StepContext } from './context.js';
import { retryWhile, tags } from './context.js';
import { remember } from './deploy-file.js';
import { DeployError, isAwsError } from './errors.js';
import {
  type DeployRepositories,
  type ImagePublisher,
  isRegistryAuthError,
  type RegistryLogin,
} from './images.js';
import type { DeployImages } from './settings.js';

/** The repository policy letting the EB instance role pull (besides its AmazonEC2ContainerRegistryReadOnly). */
export function pullPolicy(instanceRoleArn: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'SifuElasticBeanstalkPull',
        Effect: 'Allow',
        Principal: { AWS: instanceRoleArn },
        Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'],
      },
    ],
  });
}

const samePolicy = (a: string | undefined, b: string) => {
  try {
    return a !== undefined && JSON.stringify(JSON.parse(a)) === JSON.stringify(JSON.parse(b));
  } catch {
    return false;
  }
};

/** Steps 2-3: the ECR repositories, created when missing, each letting the instance role pull. */
export async function ensureRepositories(
  ctx: StepContext,
  instanceRoleArn: string,
): Promise<DeployRepositories> {
  const { ecr } = ctx.aws;
  const uris: Partial<DeployRepositories> = {};
  const fallbackUri = (name: string) =>
    `${ctx.account}.dkr.ecr.${ctx.settings.registryRegion}.amazonaws.com/${name}`;
  for (const key of ['sifu', 'notebook'] as const) {
    const name = ctx.settings.repositories[key];
    let created = false;
    try {
      const found = await ecr.send(new DescribeRepositoriesCommand({ repositoryNames: [name] }));
      uris[key] = found.repositories?.[0]?.repositoryUri ?? fallbackUri(name);
    } catch (err) {
      if (!isAwsError(err, 'RepositoryNotFound')) throw err;
      ctx.output(`creating the ECR repository ${name} in ${ctx.settings.registryRegion}`);
      const made = await ecr.send(
        new CreateRepositoryCommand({
          repositoryName: name,
          imageScanningConfiguration: { scanOnPush: true },
          tags: tags(ctx),
        }),
      );
      uris[key] = made.repository?.repositoryUri ?? fallbackUri(name);
      created = true;
      if (!ctx.dryRun) remember(ctx.created.repositories, name);
    }
    const wanted = pullPolicy(instanceRoleArn);
    let current: string | undefined;
    if (!created) {
      try {
        current = (await ecr.send(new GetRepositoryPolicyCommand({ repositoryName: name }))).policyText;
      } catch (err) {
        if (!isAwsError(err, 'RepositoryPolicyNotFound')) throw err;
      }
    }
    if (!samePolicy(current, wanted)) {
      // A just-made instance role is not a valid principal until IAM has propagated it.
      await retryWhile(
        ctx,
        (err) => isAwsError(err, 'InvalidParameter') && /polic|principal/i.test((err as Error).message),
        () => ecr.send(new SetRepositoryPolicyCommand({ repositoryName: name, policyText: wanted })),
      );
    }
  }
  return uris as DeployRepositories;
}

/** Step 4: a registry login for this run (tokens last 12 hours, so none is kept between runs). */
export async function registryLogin(ctx: StepContext): Promise<RegistryLogin> {
  const answer = await ctx.aws.ecr.send(new GetAuthorizationTokenCommand({}));
  const data = answer.authorizationData?.[0];
  if (!data?.authorizationToken || !data.proxyEndpoint) {
    throw new DeployError('registry login', 'ECR GetAuthorizationToken answered no token');
  }
  const [username, ...rest] = Buffer.from(data.authorizationToken, 'base64').toString('utf8').split(':');
  const password = rest.join(':');
  ctx.secrets.add(password);
  ctx.secrets.add(data.authorizationToken);
  return { endpoint: data.proxyEndpoint, username: username ?? 'AWS', password, expiresAt: data.expiresAt };
}

/**
 * Steps 5-7: publish the images with a fresh login; a login the registry refuses (expired between the
 * token and the push) is replaced by a new one, once.
 */
export async function publishImages(
  ctx: StepContext,
  publisher: ImagePublisher,
  repositories: DeployRepositories,
): Promise<DeployImages> {
  if (ctx.dryRun) {
    ctx.output(
      `would build the images if out of date and push them to ${repositories.sifu}, ${repositories.notebook}`,
    );
    return { sifu: `${repositories.sifu}:dry-run`, notebook: `${repositories.notebook}:dry-run` };
  }
  const login = await registryLogin(ctx);
  try {
    return await publisher.publish(login, repositories);
  } catch (err) {
    if (!isRegistryAuthError(err)) throw err;
    ctx.output('the registry refused the login (expired): logging in again');
    const fresh = await registryLogin(ctx);
    try {
      return await publisher.publish(fresh, repositories);
    } catch (again) {
      throw new DeployError('images', `pushing the images failed: ${(again as Error).message}`, {
        cause: again,
      });
    }
  }
}
