import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetParameterCommand, PutParameterCommand } from '@aws-sdk/client-ssm';
import type { StepContext } from './context.js';
import { remember } from './deploy-file.js';
import { isAwsError } from './errors.js';
import type { Prompt } from './prompt.js';

export const TOKEN_FILE = '.deployment_token';

/** Where the deployment token comes from: `DEPLOYMENT_TOKEN`, then `.deployment_token`, else ''. */
export function localToken(env: NodeJS.ProcessEnv, directory: string): string {
  if (env.DEPLOYMENT_TOKEN?.trim()) return env.DEPLOYMENT_TOKEN.trim();
  const file = join(directory, TOKEN_FILE);
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
}

async function currentValue(ctx: StepContext, name: string): Promise<string | undefined> {
  try {
    const found = await ctx.aws.ssm.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
    return found.Parameter?.Value;
  } catch (err) {
    if (isAwsError(err, 'ParameterNotFound')) return undefined;
    throw err;
  }
}

/**
 * Stores `value` as the SecureString parameter `name` unless it already holds it. The value is added to
 * the masked secrets first, so no printed call shows it.
 */
export async function putSecureParameter(ctx: StepContext, name: string, value: string, description: string) {
  ctx.secrets.add(value);
  const current = await currentValue(ctx, name);
  if (current === value) return;
  ctx.output(`${current === undefined ? 'storing' : 'updating'} the SSM SecureString ${name}`);
  await ctx.aws.ssm.send(
    new PutParameterCommand({
      Name: name,
      Value: value,
      Type: 'SecureString',
      Overwrite: true,
      Description: description,
    }),
  );
  if (!ctx.dryRun && current === undefined) remember(ctx.created.parameters, name);
}

/**
 * Steps 10-11: the deployment token for private course repositories, kept in SSM Parameter Store as a
 * SecureString (`settings.tokenParameter`) that the instances read at start; never in the bundle, the EB
 * environment, logs or arguments. Taken from the environment or the token file, else asked for on a
 * terminal; with none, a token already stored is kept (or the deployment has none).
 */
export async function ensureDeploymentToken(
  ctx: StepContext,
  token: string,
  prompt: Prompt,
): Promise<{ stored: boolean }> {
  const name = ctx.settings.tokenParameter;
  let value = token;
  if (!value) {
    const current = await currentValue(ctx, name);
    if (current !== undefined) {
      ctx.secrets.add(current);
      return { stored: true };
    }
    value = await prompt.askSecret('Deployment token for private course repositories (empty: none)');
  }
  if (!value) {
    ctx.output(
      'no deployment token (DEPLOYMENT_TOKEN, .deployment_token): private course repositories cannot be cloned',
    );
    return { stored: false };
  }
  await putSecureParameter(ctx, name, value, 'Sifu deployment token for private course repositories');
  return { stored: true };
}
