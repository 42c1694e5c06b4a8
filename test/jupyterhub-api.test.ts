import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BUILT_ADMIN_TOKEN, type BuiltSifu, startBuiltSifu } from './support/built-sifu.js';
import { shapeMismatch } from './support/jupyterhub-probes/shape.js';
import { PROBES, type ProbeResult, runProbes, SIFU_PROBE_ENV } from './support/jupyterhub-probes.js';

const DIFFERENCES_HEADING = '## Where Sifu differs from JupyterHub';

/**
 * The probes docs/api.md declares deliberately different: the lines `- \`<probe id>\`: <reason>` under
 * DIFFERENCES_HEADING, up to the next heading. A line without a reason is refused.
 */
function documentedDifferences(markdown: string): Map<string, string> {
  const lines = markdown.split('\n');
  const start = lines.findIndex((line) => line.trim() === DIFFERENCES_HEADING);
  if (start === -1) throw new Error(`docs/api.md has no "${DIFFERENCES_HEADING}" section`);
  if (lines.some((line, i) => i > start && line.trim() === DIFFERENCES_HEADING)) {
    throw new Error(`docs/api.md has two "${DIFFERENCES_HEADING}" sections`);
  }
  const found = new Map<string, string>();
  let last: string | undefined;
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith('#')) break;
    const entry = /^- `([^`]+)`:\s*(.*)$/.exec(line.trim());
    if (entry) {
      const [, id, reason] = entry as unknown as [string, string, string];
      found.set(id, reason.trim());
      last = id;
    } else if (last !== undefined && /^\s+\S/.test(line)) {
      // A wrapped reason: indented lines continue the entry above.
      found.set(last, `${found.get(last)} ${line.trim()}`.trim());
    } else {
      last = undefined;
    }
  }
  for (const [id, reason] of found) {
    if (reason === '') throw new Error(`docs/api.md lists \`${id}\` without a reason`);
  }
  return found;
}

describe('documentedDifferences', () => {
  test('reads the listed ids and reasons of the section, and only of it', () => {
    const doc = [
      '# API',
      '- `users.list`: not in this section',
      DIFFERENCES_HEADING,
      'Some probes differ on purpose:',
      '- `a.b`: because',
      '  - `c.d`: also because,',
      '  wrapped',
      '',
      '  not a continuation after a blank line',
      '## Next',
      '- `e.f`: after the section',
    ].join('\n');
    assert.deepEqual(
      [...documentedDifferences(doc)],
      [
        ['a.b', 'because'],
        ['c.d', 'also because, wrapped'],
      ],
    );
  });
  test('refuses a missing or doubled section and a line without a reason', () => {
    assert.throws(() => documentedDifferences('# API\n'), /no "## Where Sifu differs/);
    assert.throws(
      () => documentedDifferences(`${DIFFERENCES_HEADING}\n- \`a.b\`: x\n${DIFFERENCES_HEADING}\n`),
      /two "## Where Sifu differs/,
    );
    assert.throws(() => documentedDifferences(`${DIFFERENCES_HEADING}\n- \`a.b\`: \n`), /without a reason/);
  });
});

describe('shapeMismatch (the JSON checks of the probes)', () => {
  const user = {
    fields: { name: 'string', admin: 'boolean', servers: { mapOf: { fields: { ready: 'boolean' } } } },
  } as const;
  const cases: Array<[string, unknown, string | null]> = [
    ['a matching model', { name: 'ada', admin: false, servers: { '': { ready: true } }, extra: 1 }, null],
    ['a missing field', { name: 'ada', servers: {} }, 'body.admin is missing'],
    ['a field of the wrong type', { name: 'ada', admin: 'no', servers: {} }, 'body.admin is not a boolean'],
    [
      'a bad map value',
      { name: 'ada', admin: true, servers: { nb: { ready: 1 } } },
      'body.servers["nb"].ready is not a boolean',
    ],
    ['a list where an object is due', [], 'body is not an object'],
  ];
  for (const [what, value, want] of cases) {
    test(what, () => assert.equal(shapeMismatch(value, user), want));
  }
  test('equals, oneOf, arrayOf and date-time', () => {
    assert.equal(shapeMismatch('x', { equals: 'y' }), 'body is "x", not "y"');
    assert.equal(shapeMismatch(null, { oneOf: ['string', 'null'] }), null);
    assert.equal(
      shapeMismatch(3, { oneOf: ['string', 'null'] }),
      'body is not a string and body is not null',
    );
    assert.equal(shapeMismatch(['a', 2], { arrayOf: 'string' }), 'body[1] is not a string');
    assert.equal(shapeMismatch('yesterday', 'date-time'), 'body is not a date-time string');
    assert.equal(shapeMismatch('2026-12-02T05:00:00Z', 'date-time'), null);
  });
});

describe('JupyterHub REST conformance (probes from rest-api.yml, against the built Sifu)', () => {
  let sifu: BuiltSifu;
  let results: ProbeResult[];
  const differences = documentedDifferences(
    readFileSync(join(import.meta.dirname, '..', 'docs', 'api.md'), 'utf8'),
  );

  before(async () => {
    sifu = await startBuiltSifu(SIFU_PROBE_ENV);
    results = await runProbes(
      { apiUrl: sifu.hubUrl, serverOrigin: sifu.notebookUrl, adminToken: BUILT_ADMIN_TOKEN },
      PROBES,
    );
    const passed = results.filter((r) => r.pass).length;
    console.log(
      `${passed}/${results.length} probes pass (${differences.size} documented as deliberately different)`,
    );
  });
  after(() => sifu?.stop());

  test('every probe docs/api.md lists as different exists in the table', () => {
    const ids = new Set(PROBES.map((p) => p.id));
    const unknown = [...differences.keys()].filter((id) => !ids.has(id));
    assert.deepEqual(unknown, [], `docs/api.md lists probes the table does not have: ${unknown.join(', ')}`);
  });

  test('every probe passes, but those documented as different', () => {
    const failing = results.filter((r) => !r.pass && !differences.has(r.id));
    const report = failing.map((r) => `  ${r.id}: expected ${r.expected}; got ${r.got}`).join('\n');
    assert.equal(failing.length, 0, `${failing.length} probes fail:\n${report}`);
  });

  test('a probe documented as different does fail (else the line in docs/api.md is stale)', () => {
    const stale = results.filter((r) => r.pass && differences.has(r.id)).map((r) => r.id);
    assert.deepEqual(stale, [], `documented as different but passing: ${stale.join(', ')}`);
  });
});
