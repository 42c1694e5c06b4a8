import { SifuError } from '../errors.js';

/**
 * Turns the configured server command (e.g. `spawner.command`) into an argv, without any shell: the
 * command is operator-written but the values expanded into it (paths, ports, base URLs) come from
 * requests, so no value may ever be re-parsed as syntax.
 *
 * Syntax, on purpose much smaller than a shell's:
 * - words are separated by whitespace outside quotes;
 * - `'...'` keeps everything literally (no expansion);
 * - `"..."` groups words but still expands variables;
 * - `${NAME}` is replaced by `vars[NAME]`; the value is never split into several words, so a path
 *   with spaces stays one argument. An unknown name is an error naming it.
 * - There are no backslash escapes: put a literal `'` inside `"..."` and a literal `"` or `${` inside `'...'`.
 *
 * The variables a server command gets (`server-env.ts`): `${SIFU_SERVER_SOCKET}`, the unix socket to
 * listen on as the server sees it (the route Sifu uses); `${SIFU_SERVER_BASE_URL}`; `${SIFU_SERVER_ROOT}`,
 * the learner's home; `${SIFU_SERVER_PORT}`, a free TCP port for commands that cannot use a socket (not
 * isolated: anything on the host's network may connect to it); the secret only in JUPYTER_TOKEN.
 */
export interface ParseCommandOptions {
  /** Name of the option the command comes from, used in error messages. */
  optionName?: string;
  /**
   * Variables that must never be expanded into arguments (process arguments are visible to every
   * user of the host through `ps`), e.g. `JUPYTER_TOKEN`.
   */
  forbidden?: readonly string[];
}

const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Throws `SIFU_ERR_CONFIG` for a malformed command or an unknown or forbidden variable. */
export function parseCommand(
  command: string,
  vars: Readonly<Record<string, string | undefined>>,
  options: ParseCommandOptions = {},
): string[] {
  const optionName = options.optionName ?? 'spawner.command';
  const forbidden = new Set(options.forbidden ?? []);
  function fail(problem: string): never {
    throw new SifuError('SIFU_ERR_CONFIG', `\`${optionName}\` ${problem}, got '${command}'`);
  }

  const words: string[] = [];
  // `current` is undefined between words, so that `''` still yields an (empty) word.
  let current: string | undefined;
  let quote: "'" | '"' | undefined;
  let i = 0;
  while (i < command.length) {
    const char = command[i] as string;
    if (quote === undefined && /\s/.test(char)) {
      if (current !== undefined) words.push(current);
      current = undefined;
      i += 1;
      continue;
    }
    if (quote === undefined && (char === "'" || char === '"')) {
      quote = char;
      current ??= '';
      i += 1;
      continue;
    }
    if (quote !== undefined && char === quote) {
      quote = undefined;
      i += 1;
      continue;
    }
    if (quote !== "'" && char === '$' && command[i + 1] === '{') {
      const end = command.indexOf('}', i + 2);
      if (end === -1) fail(`has an unterminated \${ at position ${i}`);
      const name = command.slice(i + 2, end);
      if (!VARIABLE_NAME.test(name)) fail(`has an invalid variable name \${${name}}`);
      if (forbidden.has(name)) {
        fail(`must not use \${${name}}: it is secret and process arguments are visible to every user`);
      }
      const value = vars[name];
      if (value === undefined) fail(`uses an unknown variable \${${name}}`);
      current = (current ?? '') + value;
      i = end + 1;
      continue;
    }
    current = (current ?? '') + char;
    i += 1;
  }
  if (quote !== undefined) fail(`has an unterminated ${quote} quote`);
  if (current !== undefined) words.push(current);
  if (words.length === 0) fail('is empty');
  return words;
}
