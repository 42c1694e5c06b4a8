import type { AwsClients } from './clients.js';
import type { CreatedResources } from './deploy-file.js';
import type { DeploySettings } from './settings.js';

/** What every step is given: the (instrumented) clients, the settings, and where progress goes. */
export interface StepContext {
  aws: AwsClients;
  settings: DeploySettings;
  /** What this and earlier runs made: each step adds what it creates, for `destroy`. */
  created: CreatedResources;
  output: (line: string) => void;
  dryRun: boolean;
  /** Values masked wherever a call's input is printed. */
  secrets: Set<string>;
  /** The AWS account (from STS), for ARNs and registry URIs. */
  account: string;
  sleep: (ms: number) => Promise<void>;
  /** Polling interval of the waits (environment, RDS, EFS). */
  pollMs: number;
  /** How long a wait may take before the step fails. */
  waitTimeoutMs: number;
}

/** Polls `check` every `pollMs` until it answers a value, or fails the step after the timeout. */
export async function waitFor<T>(
  ctx: StepContext,
  what: string,
  check: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + ctx.waitTimeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await ctx.sleep(ctx.pollMs);
  }
}

/**
 * Runs `task`, again after `pollMs` while it fails with an error `retryable` accepts (at most `attempts`
 * times): IAM is eventually consistent, so a role or instance profile made seconds ago may not be known
 * to ECR or EB yet.
 */
export async function retryWhile<T>(
  ctx: StepContext,
  retryable: (err: unknown) => boolean,
  task: () => Promise<T>,
  attempts = 8,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await task();
    } catch (err) {
      if (attempt >= attempts || !retryable(err)) throw err;
      ctx.output(`waiting for IAM to propagate (${(err as Error).message})`);
      await ctx.sleep(ctx.pollMs);
    }
  }
}

export const tags = (ctx: StepContext) => [
  { Key: 'sifu:application', Value: ctx.settings.application },
  { Key: 'sifu:environment', Value: ctx.settings.environment },
];
