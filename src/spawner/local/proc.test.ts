import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseProcStat, readProcStat } from './proc.js';

/** A /proc/<pid>/stat line with `comm` as given; fields 3, 4, 5 and 22 distinct so a shifted parse shows. */
const line = (comm: string): string =>
  `4242 (${comm}) S 17 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 987654 1000 100 18446744073709551615\n`;

describe('parseProcStat', () => {
  const cases = [
    { name: 'a plain command name', comm: 'python3' },
    { name: 'a name with spaces', comm: 'my server' },
    { name: 'a name with parentheses and a closing paren', comm: 'a) S 1 2 (b' },
  ];
  for (const { name, comm } of cases) {
    it(`reads state, ppid, pgrp and start time past ${name}`, () => {
      assert.deepEqual(parseProcStat(line(comm)), { state: 'S', ppid: 17, pgrp: 4242, startTime: 987654 });
    });
  }

  it('returns undefined for text that is not a stat line', () => {
    assert.equal(parseProcStat(''), undefined);
    assert.equal(parseProcStat('4242 (x) S 1 2'), undefined);
  });

  it("reads this process's own stat, and nothing for a pid that does not exist", async () => {
    const own = await readProcStat(process.pid);
    assert.equal(own?.ppid, process.ppid);
    assert.equal(await readProcStat(2 ** 22 + 1), undefined);
  });
});
