import type { Command } from 'commander';

/** `sifu image build`: the notebook images (loaded on use: it needs neither the config nor the store). */
export function registerImageCommands(program: Command): void {
  const image = program.command('image').description('Notebook images.');
  image
    .command('build')
    .description(
      'Build (or reuse) the notebook base image, offline from a debootstrapped Debian by default, and a course image on top.',
    )
    .option('--tag <tag>', 'base image tag', 'sifu/notebook-base:bookworm')
    .option('--from <image>', 'build the base on this registry image instead of a debootstrapped Debian')
    .option('--mirror <url>', 'Debian mirror for debootstrap and apt')
    .option('--course-repo <url>', 'git repository of a course, cloned into /opt/course of a course image')
    .option('--course-ref <ref>', 'branch or tag of the course repository')
    .option('--course-tag <tag>', 'course image tag', 'sifu/notebook-course:latest')
    .option('--course-token-env <name>', 'environment variable holding the deployment token (a build secret)')
    .option('--force', 'rebuild even when an image with the same content hash exists')
    .action(
      async (opts: {
        tag: string;
        from?: string;
        mirror?: string;
        courseRepo?: string;
        courseRef?: string;
        courseTag: string;
        courseTokenEnv?: string;
        force?: boolean;
      }) => {
        const { buildImages } = await import('../../image/build-images.js');
        await buildImages({
          baseTag: opts.tag,
          from: opts.from,
          mirror: opts.mirror,
          force: opts.force,
          course: opts.courseRepo
            ? {
                tag: opts.courseTag,
                source: { repository: opts.courseRepo, ref: opts.courseRef, tokenEnv: opts.courseTokenEnv },
              }
            : undefined,
          onProgress: (line) => console.log(line),
        });
      },
    );
}
