/**
 * `sifu course ...`: course notebooks and learners' copies from the command line, on the same store and
 * storage root as `sifu serve` (run it where the storage root is mounted).
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { CourseNotebooks } from '../../courses/course-notebooks.js';
import { resolveDeploymentToken } from '../../courses/deployment-token.js';
import { courseDirName } from '../../courses/ids.js';
import { normalizeUsername } from '../../names.js';
import { Storage } from '../../storage/storage.js';
import type { Store } from '../../store/store.js';
import type { CliContext } from '../context.js';

export function registerCourseCommands(program: Command, { config, withStore }: CliContext): void {
  const coursesOf = (store: Store) =>
    new CourseNotebooks(store, Storage.fromConfig(store, config()), {
      maxNotebookBytes: config().storage.maxNotebookBytes,
      gitAllowedPrefixes: config().courses.gitAllowedPrefixes,
      deploymentToken: () => resolveDeploymentToken(config().courses),
    });

  const course = program.command('course').description("Course notebooks and learners' copies.");
  course
    .command('list')
    .description('List base notebooks (of one course with --course).')
    .option('--course <id>', 'course id, e.g. course-v1:Org+CS101+2025')
    .action(async (opts: { course?: string }) => {
      await withStore(async (store) => {
        for (const nb of await coursesOf(store).list(opts.course)) {
          const from = nb.source.kind === 'git' ? `git ${nb.source.repo} ${nb.source.path}` : 'upload';
          console.log(
            `${nb.courseId}\t${courseDirName(nb.courseId)}\t${nb.name}\t${nb.unitId || '-'}\t${nb.size}\t${from}`,
          );
        }
      });
    });
  course
    .command('attach')
    .description('Attach (or replace) a base notebook: from a file, or from git with the deployment token.')
    .argument('<course>', 'course id')
    .argument('[file]', 'a local .ipynb file (omit with --git)')
    .option('--unit <id>', 'the unit it belongs to (default: the whole course)')
    .option('--name <name>', 'file name in the course (default: the file name)')
    .option('--git <url>', 'repository URL (https)')
    .option('--path <path>', 'path of the notebook in the repository')
    .option('--ref <ref>', 'branch or tag')
    .action(
      async (
        courseId: string,
        file: string | undefined,
        opts: { unit?: string; name?: string; git?: string; path?: string; ref?: string },
      ) => {
        await withStore(async (store) => {
          const courses = coursesOf(store);
          const common = { courseId, unitId: opts.unit ?? null, by: 'cli' };
          const { record, created } = opts.git
            ? await courses.attachFromGit({
                ...common,
                name: opts.name,
                git: { repo: opts.git, path: opts.path ?? '', ref: opts.ref ?? null },
              })
            : await courses.attachUpload({
                ...common,
                name: opts.name ?? file?.split('/').at(-1) ?? '',
                notebook: await readFile(file ?? '', 'utf8'),
              });
          await store.addEvent('course.notebook.put', null, {
            by: 'cli',
            course: record.courseId,
            name: record.name,
          });
          console.log(
            `${created ? 'attached' : 'replaced'} ${record.name} (${record.size} bytes, sha256 ${record.sha256})`,
          );
        });
      },
    );
  course
    .command('detach')
    .description("Detach a base notebook (learners' copies stay).")
    .argument('<course>')
    .argument('<name>')
    .action(async (courseId: string, name: string) => {
      await withStore(async (store) => {
        await coursesOf(store).detach(courseId, name);
        console.log(`detached ${name}`);
      });
    });
  for (const [verb, help] of [
    ['copy', "Make a learner's copy if missing (never overwrites)."],
    ['reset', "Reset a learner's copy to the base notebook, keeping theirs as a backup."],
    ['delete', "Move a learner's copy to the trash."],
  ] as const) {
    course
      .command(verb)
      .description(help)
      .argument('<course>')
      .argument('<name>')
      .requiredOption('-u, --user <name>', 'the learner')
      .action(async (courseId: string, name: string, opts: { user: string }) => {
        const user = normalizeUsername(opts.user);
        await withStore(async (store) => {
          const courses = coursesOf(store);
          if (verb === 'copy') {
            const copy = await courses.ensureLearnerCopy(user, courseId, null, name);
            console.log(`${copy.created ? 'created' : 'exists'} ${copy.path}`);
          } else if (verb === 'reset') {
            const result = await courses.resetLearnerCopy(user, courseId, name);
            console.log(`reset ${result.path}${result.backup ? `; backup ${result.backup}` : ''}`);
          } else {
            const entry = await courses.deleteLearnerCopy(user, courseId, name);
            console.log(
              `trashed ${entry.path} as ${entry.id} (kept until ${entry.purgeAfter.toISOString()})`,
            );
          }
        });
      });
  }
}
