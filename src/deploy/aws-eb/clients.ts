import { EC2Client } from '@aws-sdk/client-ec2';
import { ECRClient } from '@aws-sdk/client-ecr';
import { EFSClient } from '@aws-sdk/client-efs';
import { ElasticBeanstalkClient } from '@aws-sdk/client-elastic-beanstalk';
import { IAMClient } from '@aws-sdk/client-iam';
import { RDSClient } from '@aws-sdk/client-rds';
import { S3Client } from '@aws-sdk/client-s3';
import { SSMClient } from '@aws-sdk/client-ssm';
import { STSClient } from '@aws-sdk/client-sts';
import { awsErrorName, DeployError, isAccessDenied, isThrottled } from './errors.js';

/** The AWS SDK v3 clients the deployment uses: ECR in the registry's region, the rest in the EB region. */
export interface AwsClients {
  sts: STSClient;
  iam: IAMClient;
  ecr: ECRClient;
  eb: ElasticBeanstalkClient;
  s3: S3Client;
  ssm: SSMClient;
  rds: RDSClient;
  efs: EFSClient;
  ec2: EC2Client;
}

/** IAM's prefix of each client's actions, to name a missing permission (`ecr:CreateRepository`). */
const ACTION_PREFIX: Record<keyof AwsClients, string> = {
  sts: 'sts',
  iam: 'iam',
  ecr: 'ecr',
  eb: 'elasticbeanstalk',
  s3: 's3',
  ssm: 'ssm',
  rds: 'rds',
  efs: 'elasticfilesystem',
  ec2: 'ec2',
};

/** S3 actions whose IAM permission is not named like the command. */
const S3_PERMISSION: Record<string, string> = { HeadObject: 'GetObject', HeadBucket: 'ListBucket' };

export function createAwsClients(region: string, registryRegion: string): AwsClients {
  return {
    sts: new STSClient({ region }),
    iam: new IAMClient({ region }),
    ecr: new ECRClient({ region: registryRegion }),
    eb: new ElasticBeanstalkClient({ region }),
    s3: new S3Client({ region }),
    ssm: new SSMClient({ region }),
    rds: new RDSClient({ region }),
    efs: new EFSClient({ region }),
    ec2: new EC2Client({ region }),
  };
}

/** A command that reads only: sent even in a dry run. Everything else changes something. */
export function isReadOnly(action: string): boolean {
  return /^(Get|Describe|List|Head|Check|Validate|Lookup)/.test(action);
}

/** `CreateRepositoryCommand` → `CreateRepository`. */
export function actionOf(command: object): string {
  return command.constructor.name.replace(/Command$/, '');
}

export interface AwsCall {
  service: keyof AwsClients;
  action: string;
  /** The input with secrets masked (`***`) and bodies summarized: safe to print. */
  input: unknown;
}

export interface InstrumentOptions {
  dryRun: boolean;
  /** Strings never to print (the deployment token, the database password): masked in recorded inputs. */
  secrets: Set<string>;
  /** The step running now, named in a permission error. */
  currentStep: () => string;
  /** Each mutating call: in a dry run it is recorded here instead of being sent. */
  onMutation: (call: AwsCall) => void;
  /** Retries of a throttled call, with exponential backoff from `retryBaseMs`. */
  maxRetries?: number;
  retryBaseMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

const SECRET_KEYS = /^(MasterUserPassword|Password|SecretString|authorizationToken)$/i;

/** A printable copy of a command's input: secrets masked, byte bodies reduced to their size. */
export function maskInput(input: unknown, secrets: Set<string>): unknown {
  if (typeof input === 'string') {
    let masked = input;
    for (const secret of secrets) if (secret) masked = masked.split(secret).join('***');
    return masked;
  }
  if (input instanceof Uint8Array) return `<${input.byteLength} bytes>`;
  if (Array.isArray(input)) return input.map((item) => maskInput(item, secrets));
  if (input instanceof Date) return input.toISOString();
  if (input && typeof input === 'object') {
    if (typeof (input as { pipe?: unknown }).pipe === 'function') return '<stream>';
    return Object.fromEntries(
      Object.entries(input).map(([key, value]) => [
        key,
        SECRET_KEYS.test(key) && typeof value === 'string' ? '***' : maskInput(value, secrets),
      ]),
    );
  }
  return input;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Wraps every client's `send`: a throttled call is retried with backoff; an AccessDenied becomes a
 * `DeployError` naming the step and the IAM permission (`ecr:CreateRepository`); in a dry run a mutating
 * call is recorded and answered with `{}` instead of being sent, while reads go to AWS (so a dry run
 * needs working credentials, and shows what a real run would find).
 */
export function instrumentClients(clients: AwsClients, options: InstrumentOptions): AwsClients {
  const sleep = options.sleep ?? defaultSleep;
  const maxRetries = options.maxRetries ?? 5;
  const base = options.retryBaseMs ?? 500;
  const wrap = <C extends object>(service: keyof AwsClients, client: C): C =>
    new Proxy(client, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (property !== 'send' || typeof value !== 'function') return value;
        return async (command: { input: unknown }, ...rest: unknown[]) => {
          const action = actionOf(command);
          if (!isReadOnly(action)) {
            options.onMutation({ service, action, input: maskInput(command.input, options.secrets) });
            if (options.dryRun) return {};
          }
          for (let attempt = 0; ; attempt++) {
            try {
              return await value.call(target, command, ...rest);
            } catch (err) {
              if (isThrottled(err) && attempt < maxRetries) {
                await sleep(base * 2 ** attempt);
                continue;
              }
              if (isAccessDenied(err)) {
                const permission = `${ACTION_PREFIX[service]}:${service === 's3' ? (S3_PERMISSION[action] ?? action) : action}`;
                throw new DeployError(
                  options.currentStep(),
                  `AWS refused ${permission} (${awsErrorName(err)}): the identity running the deployment needs the permission ${permission}. ${(err as Error).message}`,
                  { cause: err },
                );
              }
              throw err;
            }
          }
        };
      },
    });
  return Object.fromEntries(
    Object.entries(clients).map(([service, client]) => [service, wrap(service as keyof AwsClients, client)]),
  ) as unknown as AwsClients;
}
