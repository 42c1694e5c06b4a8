/**
 * Fetches one notebook from a git repository, private ones with the deployment token.
 *
 * The token never appears in argv, in the URL, in logs or on disk: git receives it as an HTTP header set
 * through its environment (`GIT_CONFIG_COUNT` / `GIT_CONFIG_KEY_0` / `GIT_CONFIG_VALUE_0` =
 * `http.<repo url>.extraHeader`), scoped to that repository URL, with redirects off, and only over https
 * (or plain http to a loopback host). The user's and system git configuration are ignored (no credential
 * helper can store it). The clone is bare and shallow, into a temporary directory removed afterwards;
 * only the one blob is read (`ls-tree` + `cat-file`), so there is no working tree and no symlink to
 * follow: a path that is a symlink or a submodule in the repository is refused.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SifuError } from '../errors.js';
import { relativePathComponents } from '../storage/paths.js';

export interface GitSource {
  repo: string;
  /** Path of the notebook inside the repository. */
  path: string;
  /** Branch or tag; default: the remote's default branch. */
  ref?: string | null | undefined;
}

export interface GitFetchOptions {
  /** URL prefixes repositories may come from (`courses.gitAllowedPrefixes`); nothing else is contacted. */
  allowedPrefixes: readonly string[];
  token?: string | undefined;
  maxBytes: number;
  timeoutMs?: number;
}

const REF_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$/;
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|\[::1\]|localhost)$/;

/** Checks the repository URL: https (or http to loopback), no credentials, no other transports. */
export function validateRepoUrl(raw: unknown): URL {
  const bad = (why: string) => new SifuError('SIFU_ERR_BAD_REQUEST', `invalid git repository URL: ${why}`);
  if (typeof raw !== 'string' || raw.length > 1024) throw bad('a URL of at most 1024 characters is required');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw bad('not a URL');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.test(url.hostname))) {
    throw bad('only https:// is accepted (http:// to a loopback host, for tests)');
  }
  if (url.username || url.password)
    throw bad('credentials do not belong in the URL; use the deployment token');
  if (url.search || url.hash) throw bad('no query or fragment');
  return url;
}

/**
 * Whether `url` is under one of `prefixes`. A prefix matches whole path segments only, so that
 * `https://host/org` admits `https://host/org/repo` but not `https://host/org-evil/repo`; prefixes that
 * are not URLs match nothing.
 */
export function repoAllowed(url: URL, prefixes: readonly string[]): boolean {
  return prefixes.some((raw) => {
    let prefix: URL;
    try {
      prefix = new URL(raw);
    } catch {
      return false;
    }
    if (prefix.origin !== url.origin || prefix.search || prefix.hash || prefix.username) return false;
    const base = prefix.pathname.endsWith('/') ? prefix.pathname : `${prefix.pathname}/`;
    return url.pathname === prefix.pathname || url.pathname.startsWith(base);
  });
}

export function validateRef(raw: unknown): string | null {
  if (raw === undefined || raw === null || raw === '') return null;
  if (typeof raw !== 'string' || !REF_PATTERN.test(raw) || raw.includes('..')) {
    throw new SifuError('SIFU_ERR_BAD_REQUEST', 'invalid git ref: a branch or tag name');
  }
  return raw;
}

/** Removes every form of the token from text that may reach a log. */
function scrub(text: string, secrets: string[]): string {
  let out = text;
  for (const secret of secrets) if (secret) out = out.split(secret).join('***');
  return out;
}

interface GitRun {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

function runGit(
  args: string[],
  env: NodeJS.ProcessEnv,
  options: { timeoutMs: number; maxStdout: number },
): Promise<GitRun> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let size = 0;
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > options.maxStdout) {
        child.kill('SIGKILL');
        return;
      }
      chunks.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 8192) stderr += chunk.toString();
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(chunks), stderr });
    });
  });
}

/** Clones `source.repo` (shallow, bare) and returns the bytes of `source.path`. */
export async function fetchNotebookFromGit(source: GitSource, options: GitFetchOptions): Promise<Buffer> {
  const url = validateRepoUrl(source.repo);
  // Before anything is contacted: a repository outside the allowlist gets neither a request nor the token.
  if (!repoAllowed(url, options.allowedPrefixes)) {
    throw new SifuError(
      'SIFU_ERR_GIT_HOST_NOT_ALLOWED',
      options.allowedPrefixes.length === 0
        ? 'attaching notebooks from git is off: the operator lists allowed repositories in courses.gitAllowedPrefixes'
        : 'this git repository is not in courses.gitAllowedPrefixes',
    );
  }
  const ref = validateRef(source.ref);
  const path = relativePathComponents(source.path).join('/');
  const timeoutMs = options.timeoutMs ?? 60_000;
  const work = await mkdtemp(join(tmpdir(), 'sifu-git-'));
  const header = options.token
    ? `Authorization: Basic ${Buffer.from(`x-access-token:${options.token}`).toString('base64')}`
    : undefined;
  const secrets = [options.token ?? '', header ?? '', header?.slice('Authorization: Basic '.length) ?? ''];
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: work,
    LANG: 'C',
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: '/bin/false',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_ALLOW_PROTOCOL: url.protocol.slice(0, -1),
    GIT_LITERAL_PATHSPECS: '1',
    GIT_CONFIG_COUNT: header ? '2' : '1',
    GIT_CONFIG_KEY_0: 'http.followRedirects',
    GIT_CONFIG_VALUE_0: 'false',
    ...(header ? { GIT_CONFIG_KEY_1: `http.${url.href}.extraHeader`, GIT_CONFIG_VALUE_1: header } : {}),
  };
  const failed = (what: string, run: GitRun) =>
    new SifuError('SIFU_ERR_GIT_FETCH_FAILED', `the git repository could not be read (${what})`, {
      logDetail: `git ${what} of ${url.href} exited ${run.code}: ${scrub(run.stderr, secrets).slice(-2000)}`,
    });
  try {
    const gitDir = join(work, 'repo.git');
    const clone = await runGit(
      [
        'clone',
        '--bare',
        '--depth=1',
        '--single-branch',
        '--no-tags',
        ...(ref ? [`--branch=${ref}`] : []),
        '--',
        url.href,
        gitDir,
      ],
      env,
      { timeoutMs, maxStdout: 1024 * 1024 },
    );
    if (clone.code !== 0) throw failed('clone', clone);
    const git = (args: string[], maxStdout: number) =>
      runGit([`--git-dir=${gitDir}`, ...args], env, { timeoutMs, maxStdout });

    const tree = await git(['ls-tree', '-z', 'HEAD', '--', path], 64 * 1024);
    if (tree.code !== 0) throw failed('ls-tree', tree);
    const entry = tree.stdout
      .toString('utf8')
      .split('\0')
      .find((line) => line.endsWith(`\t${path}`));
    if (!entry) throw new SifuError('SIFU_ERR_NOTEBOOK_NOT_FOUND', 'no such file in the repository');
    const [mode, type, sha] = (entry.split('\t')[0] ?? '').split(' ');
    if (type !== 'blob' || (mode !== '100644' && mode !== '100755') || !sha) {
      throw new SifuError('SIFU_ERR_UNSAFE_PATH', 'the path in the repository is not a regular file');
    }
    const sized = await git(['cat-file', '-s', sha], 64);
    if (sized.code !== 0) throw failed('cat-file', sized);
    if (Number(sized.stdout.toString().trim()) > options.maxBytes) {
      throw new SifuError('SIFU_ERR_NOTEBOOK_TOO_LARGE', `notebooks are at most ${options.maxBytes} bytes`);
    }
    const blob = await git(['cat-file', 'blob', sha], options.maxBytes + 1);
    if (blob.code !== 0) throw failed('cat-file', blob);
    return blob.stdout;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
