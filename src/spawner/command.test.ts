// biome-ignore-all lint/suspicious/noTemplateCurlyInString: commands are written with ${VAR} on purpose.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_SPAWNER_COMMAND } from '../config/schema.js';
import { isSifuError } from '../errors.js';
import { parseCommand } from './command.js';

const vars = {
  PORT: '4567',
  ROOT: '/home/ada lovelace',
  BASE: '/user/ada/',
  EMPTY: '',
  QUOTES: `it's "quoted"`,
  GLOB: '*; rm -rf /',
};

describe('parseCommand', () => {
  const cases: Array<{ name: string; command: string; argv: string[] }> = [
    {
      name: 'splits on any whitespace',
      command: '  jupyter\tnotebook \n --no-browser ',
      argv: ['jupyter', 'notebook', '--no-browser'],
    },
    { name: 'expands a variable inside a word', command: '--port=${PORT}', argv: ['--port=4567'] },
    {
      name: 'never splits an expanded value',
      command: '--dir=${ROOT} x',
      argv: ['--dir=/home/ada lovelace', 'x'],
    },
    {
      name: 'never re-parses an expanded value',
      command: 'a ${QUOTES} ${GLOB}',
      argv: ['a', `it's "quoted"`, '*; rm -rf /'],
    },
    { name: 'expands adjacent variables', command: '${PORT}${BASE}', argv: ['4567/user/ada/'] },
    { name: 'keeps an empty expansion as part of its word', command: 'a=${EMPTY} b', argv: ['a=', 'b'] },
    {
      name: 'keeps a word made only of an empty expansion (no shell-like elision)',
      command: '${EMPTY}',
      argv: [''],
    },
    { name: 'groups words in double quotes', command: 'echo "a  b" c', argv: ['echo', 'a  b', 'c'] },
    { name: 'expands inside double quotes', command: '"--dir=${ROOT}"', argv: ['--dir=/home/ada lovelace'] },
    { name: 'keeps single quotes literal', command: `echo '\${PORT} "x"'`, argv: ['echo', '${PORT} "x"'] },
    { name: 'joins quoted and unquoted parts of one word', command: `--a='b c'"d"e`, argv: ['--a=b cde'] },
    { name: 'yields an empty word for empty quotes', command: `x '' ""`, argv: ['x', '', ''] },
    { name: 'keeps a lone $ and a $ without brace', command: 'cost $5 $PORT', argv: ['cost', '$5', '$PORT'] },
    { name: 'keeps backslashes literally', command: 'a\\ b', argv: ['a\\', 'b'] },
    { name: 'keeps an apostrophe inside double quotes', command: `"it's"`, argv: ["it's"] },
  ];
  for (const { name, command, argv } of cases) {
    it(name, () => {
      assert.deepEqual(parseCommand(command, vars), argv);
    });
  }

  const errors: Array<{ name: string; command: string; mentions: string; forbidden?: string[] }> = [
    { name: 'an unknown variable, naming it', command: 'x --port=${NOPE}', mentions: '${NOPE}' },
    { name: 'an unterminated ${', command: 'x ${PORT', mentions: 'unterminated ${' },
    { name: 'an invalid variable name', command: 'x ${1A}', mentions: '${1A}' },
    { name: 'an empty variable name', command: 'x ${}', mentions: '${}' },
    { name: 'an unterminated single quote', command: "x 'abc", mentions: "unterminated ' quote" },
    { name: 'an unterminated double quote', command: 'x "abc', mentions: 'unterminated " quote' },
    { name: 'an empty command', command: ' \t ', mentions: 'is empty' },
    {
      name: 'a forbidden variable, even when it is known',
      command: 'x --token=${PORT}',
      mentions: 'must not use ${PORT}',
      forbidden: ['PORT'],
    },
  ];
  for (const { name, command, mentions, forbidden } of errors) {
    it(`rejects ${name}`, () => {
      assert.throws(
        () => parseCommand(command, vars, forbidden ? { forbidden } : {}),
        (err: unknown) => {
          assert.ok(isSifuError(err));
          assert.equal(err.code, 'SIFU_ERR_CONFIG');
          assert.ok(err.message.includes('`spawner.command`'), err.message);
          assert.ok(err.message.includes(mentions), err.message);
          return true;
        },
      );
    });
  }

  it('names the option it was given', () => {
    assert.throws(
      () => parseCommand('${NOPE}', {}, { optionName: 'spawner.docker.cmd' }),
      /`spawner\.docker\.cmd`/,
    );
  });

  it('parses the default command with the variables the spawners provide', () => {
    const argv = parseCommand(DEFAULT_SPAWNER_COMMAND, {
      SIFU_SERVER_SOCKET: '/run/sifu/jupyter.sock',
      SIFU_SERVER_PORT: '4567',
      SIFU_SERVER_BASE_URL: '/user/ada/',
      SIFU_SERVER_ROOT: '/srv/homes/ada',
    });
    assert.equal(argv[0], 'jupyter');
    assert.ok(argv.includes('--sock=/run/sifu/jupyter.sock'), 'it listens on the socket, not a TCP port');
    assert.ok(!argv.some((arg) => arg.startsWith('--port') || arg.startsWith('--ip')));
    assert.ok(argv.includes('--NotebookApp.base_url=/user/ada/'));
    assert.ok(argv.includes('--notebook-dir=/srv/homes/ada'));
  });
});
