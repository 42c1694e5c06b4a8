import { type AwsCall, type AwsClients, instrumentClients, maskInput } from './clients.js';
import type { StepContext } from './context.js';
import type { CreatedResources } from './deploy-file.js';
import type { DeploySettings } from './settings.js';

/** What a deploy or destroy run is given besides its options (tests give mocked clients and a fast clock). */
export interface SessionDeps {
  /** The real clients (createAwsClients), or mocked ones in tests; instrumented here. */
  aws: AwsClients;
  /** Progress lines (secrets masked). */
  output: (line: string) => void;
  sleep?: (ms: number) => Promise<void>;
  pollMs?: number;
  waitTimeoutMs?: number;
  retryBaseMs?: number;
}

export interface Session {
  ctx: StepContext;
  /** In a dry run, the mutating calls that were printed instead of sent. */
  calls: AwsCall[];
  /** Starts the step `name`: printed, and named by any permission error. */
  begin(name: string): void;
  readonly step: string;
}

/** The step context of one run: instrumented clients, masked output, the waits' clock. */
export function openSession(
  settings: DeploySettings,
  created: CreatedResources,
  deps: SessionDeps,
  dryRun: boolean,
): Session {
  const calls: AwsCall[] = [];
  const secrets = new Set<string>();
  let step = 'credentials';
  // Every progress line passes through the mask: no secret reaches the terminal or a log.
  const output = (line: string) => deps.output(maskInput(line, secrets) as string);
  const aws = instrumentClients(deps.aws, {
    dryRun,
    secrets,
    currentStep: () => step,
    sleep: deps.sleep,
    retryBaseMs: deps.retryBaseMs,
    onMutation: (call) => {
      if (!dryRun) return;
      calls.push(call);
      output(`[dry run] ${call.service} ${call.action} ${JSON.stringify(call.input)}`);
    },
  });
  const ctx: StepContext = {
    aws,
    settings,
    created,
    output,
    dryRun,
    secrets,
    account: '',
    sleep: deps.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
    pollMs: deps.pollMs ?? 10_000,
    waitTimeoutMs: deps.waitTimeoutMs ?? 45 * 60_000,
  };
  return {
    ctx,
    calls,
    begin(name) {
      step = name;
      output(`== ${name}`);
    },
    get step() {
      return step;
    },
  };
}
