/**
 * A step of `sifu deploy aws-eb` that cannot go on: `step` names it (as printed in the progress lines),
 * `message` says what is wrong and what to do. The CLI prints it and exits non-zero.
 */
export class DeployError extends Error {
  override name = 'DeployError';
  constructor(
    readonly step: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${step}: ${message}`, options);
  }
}

/** The SDK's error name (`RepositoryNotFoundException`, `NoSuchEntityException`, ...), or ''. */
export function awsErrorName(err: unknown): string {
  if (err && typeof err === 'object') {
    const { name, Code } = err as { name?: unknown; Code?: unknown };
    if (typeof Code === 'string' && Code) return Code;
    if (typeof name === 'string') return name;
  }
  return '';
}

/** Whether `err` is one of the SDK's errors named `names` (with or without the `Exception`/`Fault` suffix). */
export function isAwsError(err: unknown, ...names: string[]): boolean {
  const name = awsErrorName(err).replace(/(Exception|Fault)$/, '');
  return names.some((wanted) => wanted.replace(/(Exception|Fault)$/, '') === name);
}

const ACCESS_DENIED = [
  'AccessDenied',
  'AccessDeniedException',
  'UnauthorizedOperation',
  'AuthorizationError',
];
const THROTTLED = [
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'SlowDown',
];

export function isAccessDenied(err: unknown): boolean {
  return ACCESS_DENIED.includes(awsErrorName(err));
}

export function isThrottled(err: unknown): boolean {
  return THROTTLED.includes(awsErrorName(err));
}
