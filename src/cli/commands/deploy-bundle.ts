import type { Command } from 'commander';
import type { DeployCommandExtras } from './deploy.js';

/**
 * `sifu deploy aws-eb bundle [--out dir]`: writes the Elastic Beanstalk source bundle (a folder and a
 * zip beside it) from the deployment file's settings, touching no AWS service. `awsEb` is the `aws-eb`
 * command group.
 */
export function registerBundleCommand(awsEb: Command): void {
  awsEb
    .command('bundle')
    .description('Write the Elastic Beanstalk source bundle (folder and zip) without touching AWS.')
    .option('--out <dir>', 'folder to write (the zip goes beside it as <dir>.zip)', 'eb-bundle')
    .requiredOption(
      '--sifu-image <ref>',
      "Sifu's image reference, e.g. <account>.dkr.ecr.<region>.amazonaws.com/sifu:<tag>",
    )
    .requiredOption('--notebook-image <ref>', 'the notebook image reference the docker backend runs')
    .action(async (opts: { out: string; sifuImage: string; notebookImage: string }) => {
      const { readDeployFile } = await import('../../deploy/aws-eb/deploy-file.js');
      const { DEFAULT_SETTINGS } = await import('../../deploy/aws-eb/settings.js');
      const { writeBundle } = await import('../../deploy/aws-eb/bundle.js');
      const settings = readDeployFile(process.cwd())?.settings ?? {
        ...DEFAULT_SETTINGS,
        application: 'sifu',
        environment: 'sifu-env',
      };
      const { dir, zip, hash } = await writeBundle(
        settings,
        { sifu: opts.sifuImage, notebook: opts.notebookImage },
        opts.out,
      );
      console.log(`bundle ${hash}: ${dir}/ and ${zip}`);
    });
}

/** What the bundle's side plugs into `registerDeployCommands`: the subcommand, the publisher, the writer. */
export function deployExtras(): DeployCommandExtras {
  return {
    bundle: registerBundleCommand,
    images: async () => (await import('../../deploy/aws-eb/publish-images.js')).defaultImagePublisher(),
    bundleWriter: async () => {
      const { join } = await import('node:path');
      return (await import('../../deploy/aws-eb/bundle.js')).bundleWriter(
        join(process.cwd(), '.sifu-bundles'),
      );
    },
  };
}
