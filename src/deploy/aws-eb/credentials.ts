import { GetCallerIdentityCommand, type STSClient } from '@aws-sdk/client-sts';
import { awsErrorName, DeployError } from './errors.js';

const STEP = 'credentials';

/** Errors meaning no credentials were found at all (the SDK's provider chain gave up). */
const MISSING = ['CredentialsProviderError', 'ProviderError'];
/** Errors meaning credentials were found and refused. */
const REFUSED = [
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'ExpiredTokenException',
  'UnrecognizedClientException',
  'AccessDenied',
];

/** Step 1: credentials exist and work. Resolves to the account and the caller's ARN. */
export async function checkCredentials(sts: STSClient): Promise<{ account: string; arn: string }> {
  try {
    const identity = await sts.send(new GetCallerIdentityCommand({}));
    if (!identity.Account) throw new DeployError(STEP, 'STS GetCallerIdentity answered no account');
    return { account: identity.Account, arn: identity.Arn ?? '' };
  } catch (err) {
    if (err instanceof DeployError) throw err;
    const name = awsErrorName(err);
    if (MISSING.includes(name) || /could not load credentials/i.test((err as Error).message ?? '')) {
      throw new DeployError(
        STEP,
        'no AWS credentials found: set AWS_PROFILE (after `aws configure` or `aws sso login`), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary ones)',
        { cause: err },
      );
    }
    if (REFUSED.includes(name)) {
      throw new DeployError(
        STEP,
        `AWS refused the credentials (${name}): they are wrong, expired or revoked; renew them (\`aws sso login\`, or new access keys) and run again`,
        { cause: err },
      );
    }
    throw new DeployError(STEP, `STS GetCallerIdentity failed: ${name} ${(err as Error).message}`, {
      cause: err,
    });
  }
}
