/** Records and assertions shared by the contract's case files. */
import assert from 'node:assert/strict';
import { isSifuError } from '../../errors.js';
import type { ServerRecord, SessionRecord } from '../store.js';

const HOUR = 3600_000;
export const inAnHour = () => new Date(Date.now() + HOUR);
export const anHourAgo = () => new Date(Date.now() - HOUR);
export const at = (iso: string) => new Date(iso);

export function rejectsWithCode(code: string) {
  return (err: unknown) => {
    assert.ok(isSifuError(err), `expected a SifuError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  };
}

export function serverRecord(overrides: Partial<ServerRecord> = {}): ServerRecord {
  return {
    userName: 'ada',
    name: '',
    backend: 'local',
    state: {},
    url: null,
    secret: 'secret-0',
    status: 'pending',
    startedAt: new Date('2024-05-06T07:08:09.123Z'),
    lastActivity: null,
    host: null,
    userOptions: {},
    ...overrides,
  };
}

export function sessionRecord(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    userName: 'ada',
    createdAt: new Date('2024-05-06T07:08:09.010Z'),
    expiresAt: inAnHour(),
    parentHash: null,
    ...overrides,
  };
}
