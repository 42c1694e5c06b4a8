import assert from 'node:assert/strict';
import { test } from 'node:test';
import { claimAt, LTI, type LtiPlatform, readLaunch } from './claims.js';

const EXT = 'https://purl.imsglobal.org/spec/lti/claim/ext';

test('claimAt follows a claim name, then #key per level, own keys of objects only', () => {
  const payload = {
    preferred_username: 'ada',
    [EXT]: { user_username: 'frank', nested: { deeper: 'x' }, list: ['a'] },
    'http://example.org/odd': 'y',
  };
  const cases: Array<[string, unknown]> = [
    ['preferred_username', 'ada'],
    [`${EXT}#user_username`, 'frank'],
    [`${EXT}#nested#deeper`, 'x'],
    [`${EXT}#missing`, undefined],
    [`${EXT}#list#0`, undefined],
    [`${EXT}#user_username#more`, undefined],
    [`${EXT}#toString`, undefined],
    [`${EXT}#__proto__`, undefined],
    ['http://example.org/odd', 'y'],
    ['absent', undefined],
  ];
  for (const [path, expected] of cases) assert.deepEqual(claimAt(payload, path), expected, path);
});

const platform: LtiPlatform = {
  name: 'lms',
  issuer: 'https://lms.example.org',
  clientId: 'c',
  deploymentIds: ['d'],
  authLoginUrl: 'https://lms.example.org/auth',
  jwksUrl: 'https://lms.example.org/jwks',
};
const launch = (claims: Record<string, unknown>) => ({
  [LTI.messageType]: 'LtiResourceLinkRequest',
  [LTI.version]: '1.3.0',
  [LTI.deploymentId]: 'd',
  [LTI.resourceLink]: { id: 'unit-1' },
  sub: 'learner-1',
  ...claims,
});

test('readLaunch: the subject, and the claimed name only where usernameClaim says', () => {
  const plain = readLaunch(platform, launch({ preferred_username: 'Carol' }));
  assert.equal(plain.subject, 'learner-1');
  assert.equal(plain.claimedName, null, 'without usernameClaim nothing is claimed');
  const claiming = { ...platform, usernameClaim: `${EXT}#user_username` };
  assert.equal(readLaunch(claiming, launch({ [EXT]: { user_username: 'Carol' } })).claimedName, 'Carol');
  assert.equal(readLaunch(claiming, launch({})).claimedName, null);
});

test('readLaunch refuses a launch without a usable sub', () => {
  for (const sub of [undefined, '', 42, 'x'.repeat(256)]) {
    assert.throws(() => readLaunch(platform, launch({ sub })), { code: 'SIFU_ERR_LTI_INVALID' }, String(sub));
  }
});
