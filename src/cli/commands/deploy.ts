import type { Command } from 'commander';

/**
 * `sifu deploy aws-eb bundle [--out dir]`: writes the Elastic Beanstalk source bundle (a folder and a
 * zip) from the deployment file's settings, touching no AWS service. `group` is the `aws-eb` command.
 */
export function registerBundleCommand(group: Command): void {
  group
    .command('bundle')
    .description('Write the Elastic Beanstalk source bundle (folder and zip) without touching AWS.')
    .option('--out <dir>', 'folder to write (the zip goes beside it as <dir>.zip)', 'eb-bundle')
    .option('--application <name>', "EB application (default: the deployment file's)")
    .option('--environment <name>', "EB environment (default: the deployment file's)")
    .requiredOption(
      '--sifu-image <ref>',
      "Sifu's image reference, e.g. <account>.dkr.ecr.<region>.amazonaws.com/sifu:<tag>",
    )
    .requiredOption('--notebook-image <ref>', 'the notebook image reference the docker backend runs')
    .action(
      async (opts: {
        out: string;
        application?: string;
        environment?: string;
        sifuImage: string;
        notebookImage: string;
      }) => {
        const { readFile } = await import('node:fs/promises');
        const { DEFAULT_SETTINGS, DEPLOY_FILE } = await import('../../deploy/aws-eb/settings.js');
        const { writeBundle } = await import('../../deploy/aws-eb/bundle.js');
        const saved = JSON.parse(await readFile(DEPLOY_FILE, 'utf8').catch(() => '{}'));
        const settings = {
          ...DEFAULT_SETTINGS,
          ...saved,
          application: opts.application ?? saved.application ?? 'sifu',
          environment: opts.environment ?? saved.environment ?? 'sifu',
        };
        const { dir, zip, hash } = await writeBundle(
          settings,
          { sifu: opts.sifuImage, notebook: opts.notebookImage },
          opts.out,
        );
        console.log(`bundle ${hash}: ${dir}/ and ${zip}`);
      },
    );
}

/** `sifu deploy aws-eb ...` (the AWS steps register their subcommands on the same group). */
export function registerDeployCommands(program: Command): Command {
  const group = program
    .command('deploy')
    .description('Deploy Sifu.')
    .command('aws-eb')
    .description('AWS Elastic Beanstalk (Docker on Amazon Linux 2023).');
  registerBundleCommand(group);
  return group;
}
