/**
 * Course notebooks: base notebooks attached by staff (uploaded, or fetched from git), and each learner's
 * copy of them in `<home>/<course dir>/<name>`: made on first launch, never overwritten; reset keeps the
 * learner's version as a timestamped backup beside it; delete moves it to the trash.
 */
import { createHash } from 'node:crypto';
import { link, lstat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { SifuError } from '../errors.js';
import { validateNotebookName } from '../storage/paths.js';
import type { Storage } from '../storage/storage.js';
import type { TrashEntry } from '../storage/trash.js';
import type { CourseNotebookRecord, CourseNotebookSource, Store } from '../store/store.js';
import { fetchNotebookFromGit, type GitSource, validateRef, validateRepoUrl } from './git-fetch.js';
import { courseDirName, learnerCopyPath, validateCourseId, validateUnitId } from './ids.js';
import { parseNotebook, validateNotebook } from './nbformat.js';

export interface CourseNotebooksOptions {
  maxNotebookBytes: number;
  /** `courses.gitAllowedPrefixes`: where notebooks may be fetched from (and the token sent). */
  gitAllowedPrefixes: readonly string[];
  /** Read at each git fetch (see deployment-token.ts). */
  deploymentToken(): Promise<string | undefined>;
  gitTimeoutMs?: number;
}

export interface LearnerCopy {
  /** Relative to the home, e.g. `Org_CS101_2025-6c0f0a3b/intro.ipynb`. */
  path: string;
  created: boolean;
}

export interface LearnerCopyStatus {
  path: string;
  exists: boolean;
  size: number | null;
  modified: Date | null;
}

function backupName(name: string, at: Date): string {
  const stamp = at.toISOString().replace(/[-:.]/g, '');
  return `${name.slice(0, -'.ipynb'.length)}.backup-${stamp}.ipynb`;
}

export class CourseNotebooks {
  constructor(
    private readonly store: Store,
    private readonly storage: Storage,
    private readonly options: CourseNotebooksOptions,
  ) {}

  // base notebooks (staff)

  /** Attaches (or replaces) an uploaded notebook: a parsed JSON body or its text. */
  async attachUpload(input: {
    courseId: string;
    unitId?: string | null;
    name: string;
    notebook: unknown;
    by: string | null;
  }): Promise<{ record: CourseNotebookRecord; created: boolean }> {
    const { text } =
      typeof input.notebook === 'string' || Buffer.isBuffer(input.notebook)
        ? parseNotebook(input.notebook, this.options.maxNotebookBytes)
        : validateNotebook(input.notebook, this.options.maxNotebookBytes);
    return this.put(input, { kind: 'upload' }, text);
  }

  /** Attaches (or replaces) a notebook fetched from git with the deployment token. */
  async attachFromGit(input: {
    courseId: string;
    unitId?: string | null;
    name?: string | undefined;
    git: GitSource;
    by: string | null;
  }): Promise<{ record: CourseNotebookRecord; created: boolean }> {
    const repo = validateRepoUrl(input.git.repo).href;
    const ref = validateRef(input.git.ref);
    const name = input.name ?? input.git.path.split('/').at(-1) ?? '';
    validateNotebookName(name);
    const bytes = await fetchNotebookFromGit(
      { repo, path: input.git.path, ref },
      {
        allowedPrefixes: this.options.gitAllowedPrefixes,
        token: await this.options.deploymentToken(),
        maxBytes: this.options.maxNotebookBytes,
        ...(this.options.gitTimeoutMs ? { timeoutMs: this.options.gitTimeoutMs } : {}),
      },
    );
    const { text } = parseNotebook(bytes, this.options.maxNotebookBytes);
    return this.put({ ...input, name }, { kind: 'git', repo, path: input.git.path, ref }, text);
  }

  private async put(
    input: { courseId: string; unitId?: string | null; name: string; by: string | null },
    source: CourseNotebookSource,
    text: string,
  ): Promise<{ record: CourseNotebookRecord; created: boolean }> {
    const courseId = validateCourseId(input.courseId);
    const unitId = validateUnitId(input.unitId);
    const name = validateNotebookName(input.name);
    const existed = (await this.store.getCourseNotebook(courseId, name)) !== null;
    const record: CourseNotebookRecord = {
      courseId,
      name,
      unitId,
      source,
      sha256: createHash('sha256').update(text).digest('hex'),
      size: Buffer.byteLength(text),
      updatedAt: new Date(),
      updatedBy: input.by,
    };
    if (!(await this.store.putCourseNotebook(record, text))) {
      throw new SifuError(
        'SIFU_ERR_NOTEBOOK_CONFLICT',
        `a notebook named ${name} is already attached to another unit of this course`,
      );
    }
    return { record, created: !existed };
  }

  async get(courseId: string, name: string): Promise<CourseNotebookRecord> {
    const record = await this.store.getCourseNotebook(validateCourseId(courseId), validateNotebookName(name));
    if (!record) throw new SifuError('SIFU_ERR_NOTEBOOK_NOT_FOUND', 'no such notebook in this course');
    return record;
  }

  async content(courseId: string, name: string): Promise<string> {
    const text = await this.store.getCourseNotebookContent(
      validateCourseId(courseId),
      validateNotebookName(name),
    );
    if (text === null) throw new SifuError('SIFU_ERR_NOTEBOOK_NOT_FOUND', 'no such notebook in this course');
    return text;
  }

  list(courseId?: string): Promise<CourseNotebookRecord[]> {
    return this.store.listCourseNotebooks(courseId === undefined ? undefined : validateCourseId(courseId));
  }

  /** Detaches the base notebook. Learners' copies are their files: they stay. */
  async detach(courseId: string, name: string): Promise<void> {
    if (!(await this.store.deleteCourseNotebook(validateCourseId(courseId), validateNotebookName(name)))) {
      throw new SifuError('SIFU_ERR_NOTEBOOK_NOT_FOUND', 'no such notebook in this course');
    }
  }

  // learners' copies

  /**
   * The launch path (Open edX launch, LTI, the v1 API): makes the learner's copy if it does not exist
   * and returns its path relative to the home; an existing copy is never touched. `unitId`, when given,
   * must be the unit the notebook is attached to (or the notebook is course-wide).
   */
  async ensureLearnerCopy(
    userName: string,
    courseId: string,
    unitId: string | null,
    name: string,
  ): Promise<LearnerCopy> {
    const record = await this.get(courseId, name);
    const unit = validateUnitId(unitId);
    if (unit && record.unitId && record.unitId !== unit) {
      throw new SifuError('SIFU_ERR_NOTEBOOK_NOT_FOUND', 'this notebook is not attached to that unit');
    }
    const path = learnerCopyPath(record.courseId, record.name);
    const existing = await this.storage.homes.statFile(userName, path);
    if (existing) return this.existingCopy(path, existing.kind);
    const created = await this.storage.homes.createFile(userName, path, await this.content(courseId, name));
    if (created) return { path, created: true };
    // Lost a race with another launch, or something appeared meanwhile: check what is there.
    const now = await this.storage.homes.statFile(userName, path);
    return this.existingCopy(path, now?.kind ?? 'other');
  }

  private existingCopy(path: string, kind: 'file' | 'other'): LearnerCopy {
    if (kind !== 'file') {
      throw new SifuError('SIFU_ERR_UNSAFE_PATH', 'something other than a notebook has taken its name', {
        logDetail: `learner copy ${path} is not a regular file`,
      });
    }
    return { path, created: false };
  }

  async learnerCopyStatus(userName: string, courseId: string, name: string): Promise<LearnerCopyStatus> {
    const path = learnerCopyPath(validateCourseId(courseId), validateNotebookName(name));
    const stat = await this.storage.homes.statFile(userName, path);
    if (stat && stat.kind !== 'file') this.existingCopy(path, stat.kind);
    return {
      path,
      exists: stat !== null,
      size: stat?.size ?? null,
      modified: stat?.modified ?? null,
    };
  }

  /**
   * Replaces the learner's copy with the current base notebook; their version (if any) is kept beside
   * it as `<name>.backup-<UTC time>.ipynb`. Returns both paths.
   */
  async resetLearnerCopy(
    userName: string,
    courseId: string,
    name: string,
    now = new Date(),
  ): Promise<{ path: string; backup: string | null }> {
    const record = await this.get(courseId, name);
    const path = learnerCopyPath(record.courseId, record.name);
    const content = await this.content(courseId, name);
    let backup: string | null = null;
    await this.storage.homes.withLocated(userName, path, { createDirs: true }, async (located) => {
      const stat = await lstat(located.path).catch(() => null);
      if (!stat) return;
      if (!stat.isFile()) this.existingCopy(path, 'other');
      const backupFile = backupName(record.name, now);
      // link + unlink: never replaces an existing backup; the learner's bytes are never copied or lost.
      await link(located.path, join(located.dir, backupFile));
      await unlink(located.path);
      backup = `${courseDirName(record.courseId)}/${backupFile}`;
    });
    if (!(await this.storage.homes.createFile(userName, path, content))) {
      throw new SifuError('SIFU_ERR_NOTEBOOK_CONFLICT', 'the notebook was recreated meanwhile; try again');
    }
    return { path, backup };
  }

  /** Moves the learner's copy to the trash (kept for `storage.trashRetention`). */
  async deleteLearnerCopy(userName: string, courseId: string, name: string): Promise<TrashEntry> {
    const path = learnerCopyPath(validateCourseId(courseId), validateNotebookName(name));
    return this.storage.trash.put(userName, path);
  }
}
