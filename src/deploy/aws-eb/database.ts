import { randomBytes } from 'node:crypto';
import { CreateDBInstanceCommand, type DBInstance, DescribeDBInstancesCommand } from '@aws-sdk/client-rds';
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import { type StepContext, tags, waitFor } from './context.js';
import { DeployError, isAwsError } from './errors.js';
import { POSTGRES_PORT } from './network.js';
import { putSecureParameter } from './token.js';

export interface Database {
  hostname: string;
  port: number;
  name: string;
  username: string;
  /** The SSM SecureString holding the password (the instances read it; EB's properties never hold it). */
  passwordParameter: string;
}

export const databaseIdentifier = (ctx: StepContext) => `sifu-${ctx.settings.environment}`;
export const databasePasswordParameter = (ctx: StepContext) =>
  `/sifu/${ctx.settings.environment}/database-password`;

async function describe(ctx: StepContext, id: string): Promise<DBInstance | undefined> {
  try {
    const found = await ctx.aws.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }));
    return found.DBInstances?.[0];
  } catch (err) {
    if (isAwsError(err, 'DBInstanceNotFound')) return undefined;
    throw err;
  }
}

async function storedPassword(ctx: StepContext, name: string): Promise<string | undefined> {
  try {
    return (await ctx.aws.ssm.send(new GetParameterCommand({ Name: name, WithDecryption: true }))).Parameter
      ?.Value;
  } catch (err) {
    if (isAwsError(err, 'ParameterNotFound')) return undefined;
    throw err;
  }
}

/**
 * `--database`: the RDS PostgreSQL instance of the environment, reused or created (in the data security
 * group, reached from the instances only), waited for until available. The password is made here once and
 * kept as an SSM SecureString; the environment gets the `RDS_*` variables, with `RDS_PASSWORD_PARAMETER`
 * naming that parameter instead of the password itself.
 */
export async function ensureDatabase(ctx: StepContext, dataSecurityGroup: string): Promise<Database> {
  const id = databaseIdentifier(ctx);
  const passwordParameter = databasePasswordParameter(ctx);
  let instance = await describe(ctx, id);
  if (!instance) {
    const password = (await storedPassword(ctx, passwordParameter)) ?? randomBytes(24).toString('base64url');
    await putSecureParameter(ctx, passwordParameter, password, `Sifu database password of ${id}`);
    ctx.output(`creating the RDS PostgreSQL instance ${id} (takes several minutes)`);
    await ctx.aws.rds.send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: id,
        Engine: 'postgres',
        DBInstanceClass: 'db.t4g.micro',
        AllocatedStorage: 20,
        DBName: 'sifu',
        MasterUsername: 'sifu',
        MasterUserPassword: password,
        VpcSecurityGroupIds: [dataSecurityGroup],
        StorageEncrypted: true,
        PubliclyAccessible: false,
        BackupRetentionPeriod: 7,
        Tags: tags(ctx),
      }),
    );
    if (!ctx.dryRun) ctx.created.database = id;
  }
  if (ctx.dryRun && !instance) {
    return {
      hostname: `<${id} endpoint>`,
      port: POSTGRES_PORT,
      name: 'sifu',
      username: 'sifu',
      passwordParameter,
    };
  }
  instance = await waitFor(ctx, `the database ${id}`, async () => {
    const current = await describe(ctx, id);
    if (!current) throw new DeployError('database', `the database ${id} disappeared while starting`);
    if (current.DBInstanceStatus === 'available') return current;
    if (['failed', 'incompatible-parameters', 'storage-full'].includes(current.DBInstanceStatus ?? '')) {
      throw new DeployError('database', `the database ${id} is ${current.DBInstanceStatus}`);
    }
    ctx.output(`database ${id}: ${current.DBInstanceStatus}`);
    return undefined;
  });
  return {
    hostname: instance.Endpoint?.Address ?? '',
    port: instance.Endpoint?.Port ?? POSTGRES_PORT,
    name: instance.DBName ?? 'sifu',
    username: instance.MasterUsername ?? 'sifu',
    passwordParameter,
  };
}
