/**
 * `sifu deploy aws-eb`: the whole Elastic Beanstalk deployment in one command, and `destroy` to remove
 * it. The AWS work is in src/deploy/aws-eb/ (loaded on use: these commands need neither config nor store).
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { BundleWriter } from '../../deploy/aws-eb/bundle-writer.js';
import type { DeployOptions } from '../../deploy/aws-eb/deploy.js';
import type { ImagePublisher } from '../../deploy/aws-eb/images.js';
import type { CliContext } from '../context.js';
import { deployExtras } from './deploy-bundle.js';

/**
 * What other parts plug into the command group (by default the bundle's side, deploy-bundle.ts): `bundle` adds `sifu deploy aws-eb bundle` to the group;
 * `images` and `bundleWriter` make the real image publisher and bundle writer the deploy uses.
 */
export interface DeployCommandExtras {
  bundle?: (awsEb: Command) => void;
  images?: () => Promise<ImagePublisher>;
  bundleWriter?: () => Promise<BundleWriter>;
}

const portOption = (value: string): number => {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new InvalidArgumentError('must be a port (1-65535)');
  return port;
};

const notWired = (what: string) => async (): Promise<never> => {
  throw new Error(
    `sifu deploy aws-eb: no ${what} is wired into this build (src/cli/commands/deploy.ts, extras)`,
  );
};

/** The command's flags: the options of a deploy, but for where it runs. */
type DeployFlags = Omit<DeployOptions, 'directory'>;

export function registerDeployCommands(
  program: Command,
  _context: CliContext,
  extras: DeployCommandExtras = deployExtras(),
): void {
  const deploy = program.command('deploy').description('Deployments to hosting platforms.');
  const awsEb = deploy
    .command('aws-eb')
    .description(
      'Deploy to AWS Elastic Beanstalk (Docker on Amazon Linux 2023): roles, ECR, images, SSM token, security groups, optional RDS and EFS, the environment behind an ALB. A second run with nothing changed changes nothing.',
    )
    .option('--region <region>', 'EB region (saved; default us-west-1)')
    .option('--registry-region <region>', 'ECR region (saved; default us-west-2)')
    .option('--app <name>', 'EB application (asked on a terminal; default sifu)')
    .option('--env <name>', 'EB environment (asked on a terminal; default sifu-env)')
    .option('--hub-port <port>', 'hub port (default 3334)', portOption)
    .option('--notebook-port <port>', 'notebook port (default 3335)', portOption)
    .option('--relay-port <port>', 'relay port, open between instances only (default 3336)', portOption)
    .option('--database', 'create or reuse RDS PostgreSQL as the store')
    .option('--efs', 'create or reuse EFS for the learners\u2019 homes')
    .option(
      '--version-label <label>',
      'deploy this existing application version (roll back) instead of building',
    )
    .option(
      '--dry-run',
      'print every AWS call that would change something, with secrets masked; change nothing',
    )
    .option('--yes', 'ask nothing: saved settings, flags, defaults')
    .action(async (flags: DeployFlags) => {
      const [{ deployAwsEb }, { createAwsClients }, { terminalPrompt, noPrompt }, saved] = await Promise.all([
        import('../../deploy/aws-eb/deploy.js'),
        import('../../deploy/aws-eb/clients.js'),
        import('../../deploy/aws-eb/prompt.js'),
        import('../../deploy/aws-eb/deploy-file.js').then((m) => m.readDeployFile(process.cwd())),
      ]);
      const { DEFAULT_SETTINGS } = await import('../../deploy/aws-eb/settings.js');
      const region = flags.region ?? saved?.settings.region ?? DEFAULT_SETTINGS.region;
      const registryRegion =
        flags.registryRegion ?? saved?.settings.registryRegion ?? DEFAULT_SETTINGS.registryRegion;
      await deployAwsEb(
        { directory: process.cwd(), ...flags },
        {
          aws: createAwsClients(region, registryRegion),
          images: await (extras.images ?? notWired('image publisher'))(),
          bundle: await (extras.bundleWriter ?? notWired('bundle writer'))(),
          prompt: flags.yes ? noPrompt : terminalPrompt(),
          output: (line) => console.log(line),
        },
      );
    });

  awsEb
    .command('destroy')
    .description(
      'Remove what sifu deploy aws-eb made: the environment, its versions and bundles, the token, the security groups; ECR only with --images, RDS only with --database, EFS only with --efs --yes-delete-efs-data.',
    )
    .option('--images', 'also delete the ECR repositories it made, with their images')
    .option('--database', 'also delete the RDS instance (a final snapshot is kept)')
    .option('--efs', 'ask to delete the EFS file system (needs --yes-delete-efs-data too)')
    .addOption(new Option('--yes-delete-efs-data', 'confirm deleting every learner\u2019s home on EFS'))
    .option('--dry-run', 'print every call that would change something; change nothing')
    .action(
      async (flags: {
        images?: boolean;
        database?: boolean;
        efs?: boolean;
        yesDeleteEfsData?: boolean;
        dryRun?: boolean;
      }) => {
        const [{ destroyAwsEb }, { createAwsClients }, { readDeployFile }] = await Promise.all([
          import('../../deploy/aws-eb/destroy.js'),
          import('../../deploy/aws-eb/clients.js'),
          import('../../deploy/aws-eb/deploy-file.js'),
        ]);
        const saved = readDeployFile(process.cwd());
        await destroyAwsEb(
          { directory: process.cwd(), ...flags },
          {
            aws: createAwsClients(
              saved?.settings.region ?? 'us-west-1',
              saved?.settings.registryRegion ?? 'us-west-2',
            ),
            output: (line) => console.log(line),
          },
        );
      },
    );

  // `sifu deploy aws-eb bundle` (the bundle's author) plugs in here.
  extras.bundle?.(awsEb);
}
