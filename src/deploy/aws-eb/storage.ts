import { readFileSync } from 'node:fs';
import { CreateStorageLocationCommand } from '@aws-sdk/client-elastic-beanstalk';
import { HeadBucketCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { StepContext } from './context.js';
import { remember } from './deploy-file.js';
import { isAwsError } from './errors.js';

/**
 * EB's own bucket of the region (`elasticbeanstalk-<region>-<account>`): when it is not there yet, EB's
 * CreateStorageLocation makes it (only then, so that an unchanged run sends nothing that changes things).
 */
export async function storageBucket(ctx: StepContext): Promise<string> {
  const expected = `elasticbeanstalk-${ctx.settings.region}-${ctx.account}`;
  try {
    await ctx.aws.s3.send(new HeadBucketCommand({ Bucket: expected }));
    return expected;
  } catch (err) {
    if (!isAwsError(err, 'NotFound', 'NoSuchBucket')) throw err;
  }
  const answer = await ctx.aws.eb.send(new CreateStorageLocationCommand({}));
  return answer.S3Bucket ?? expected;
}

/** Uploads the bundle as `<application>/<label>.zip` unless that object is there already. */
export async function uploadBundle(
  ctx: StepContext,
  bucket: string,
  label: string,
  zip: string,
): Promise<string> {
  const key = `${ctx.settings.application}/${label}.zip`;
  try {
    await ctx.aws.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return key;
  } catch (err) {
    if (!isAwsError(err, 'NotFound', 'NoSuchKey')) throw err;
  }
  ctx.output(`uploading the bundle to s3://${bucket}/${key}`);
  await ctx.aws.s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: readFileSync(zip),
      ContentType: 'application/zip',
    }),
  );
  if (!ctx.dryRun) remember(ctx.created.objects, `${bucket}/${key}`);
  return key;
}
