import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  allows,
  checkRequestedScopes,
  holdsAdminRole,
  parseScope,
  reportScopes,
  resolveScopes,
  roleGrants,
} from './scopes.js';
import { grantsOf, hasScope, type Identity, mayActOn, sifuScopesOf } from './tokens.js';

const ada = { name: 'ada', admin: false };
const root = { name: 'root', admin: true };
const missing = { code: 'SIFU_ERR_MISSING_SCOPE' };
const invalid = { code: 'SIFU_ERR_INVALID_SCOPE' };

describe('JupyterHub scopes: parsing', () => {
  test('base scopes, filters and metascopes parse; filter values are normalised', () => {
    assert.deepEqual(parseScope('servers', ada), { base: 'servers' });
    assert.deepEqual(parseScope('servers!user=Ada', ada), { base: 'servers', filter: 'user=ada' });
    assert.deepEqual(parseScope('access:servers!server=ada/', ada), {
      base: 'access:servers',
      filter: 'server=ada/',
    });
    assert.deepEqual(parseScope('read:groups!group=course-1', ada), {
      base: 'read:groups',
      filter: 'group=course-1',
    });
    assert.deepEqual(parseScope('tokens!user', ada), { base: 'tokens', filter: 'user=ada' });
    assert.deepEqual(parseScope('inherit', ada), { base: 'inherit' });
  });

  for (const bad of [
    '',
    'root',
    'servers!',
    'servers!user=',
    'servers!user=../x',
    'servers!server=ada',
    'servers!server=ada/../x',
    'servers!host=x',
    'read:metrics!user=ada',
    'admin!user=ada',
    'launch!user=ada',
    'read:groups!user=ada',
    'servers!group=',
    `servers!user=${'a'.repeat(400)}`,
  ]) {
    test(`'${bad.slice(0, 40)}' is refused with SIFU_ERR_INVALID_SCOPE`, () => {
      assert.throws(() => parseScope(bad, ada), invalid);
    });
  }
});

describe('JupyterHub scopes: what a credential holds', () => {
  test("Sifu's `servers` and `tokens` are the owner's own, reported in JupyterHub's words", () => {
    const grants = resolveScopes(['servers', 'tokens'], ada);
    assert.ok(allows(grants, 'servers', { user: 'ada' }));
    assert.ok(!allows(grants, 'servers', { user: 'bob' }));
    assert.ok(!allows(grants, 'servers'), 'never every user’s servers');
    const reported = reportScopes(grants);
    assert.ok(reported.includes('servers!user=ada'));
    assert.ok(reported.includes('delete:servers!user=ada'));
    assert.ok(reported.includes('tokens!user=ada'));
    assert.ok(!reported.includes('servers'), `reported unfiltered: ${reported.join(' ')}`);
    assert.ok(
      reported.every((s) => s.includes('!user=ada')),
      reported.join(' '),
    );
  });

  test('an admin’s `servers` is still the admin’s own servers (Sifu’s meaning), `admin:servers` is everyone’s', () => {
    assert.ok(!allows(resolveScopes(['servers'], root), 'servers', { user: 'ada' }));
    const all = resolveScopes(['admin:servers'], root);
    assert.ok(allows(all, 'servers', { user: 'ada' }));
    assert.ok(allows(all, 'admin:server_state'));
    assert.deepEqual(reportScopes(all), [
      'admin:server_state',
      'admin:servers',
      'delete:servers',
      'read:servers',
      'read:users:name',
      'servers',
    ]);
  });

  test('scopes imply their subscopes, filters included', () => {
    const grants = resolveScopes(['admin:users'], root);
    for (const s of [
      'users',
      'read:users',
      'list:users',
      'read:users:name',
      'read:users:activity',
      'users:activity',
    ]) {
      assert.ok(allows(grants, s), s);
    }
    assert.ok(!allows(grants, 'servers'));
    const one = resolveScopes(['servers!server=ada/gpu'], root);
    assert.ok(allows(one, 'delete:servers', { user: 'ada', server: 'gpu' }));
    assert.ok(!allows(one, 'delete:servers', { user: 'ada', server: '' }));
    assert.ok(!allows(one, 'servers', { user: 'ada' }), 'one server is not all of the user’s');
    // An implied scope that takes no server filter narrows to the user.
    assert.ok(allows(one, 'read:users:name', { user: 'ada' }));
  });

  test('a !group= filter reaches the group and its members only', () => {
    const grants = resolveScopes(['read:users!group=c1', 'read:groups!group=c1'], root);
    assert.ok(allows(grants, 'read:users', { user: 'ada', userGroups: ['c1'] }));
    assert.ok(!allows(grants, 'read:users', { user: 'bob', userGroups: ['c2'] }));
    assert.ok(allows(grants, 'read:groups', { group: 'c1' }));
    assert.ok(!allows(grants, 'read:groups', { group: 'c2' }));
  });

  test('a stored scope that does not parse grants nothing, and the others still hold', () => {
    const grants = resolveScopes(['custom:from-a-newer-sifu', 'servers!user=../x', 'servers'], ada);
    assert.ok(allows(grants, 'servers', { user: 'ada' }));
    assert.deepEqual(
      reportScopes(grants).filter((s) => !s.endsWith('!user=ada')),
      [],
    );
  });

  test('`inherit` (and `all`) is the owner’s role: never admin for a non-admin', () => {
    for (const meta of ['inherit', 'all']) {
      const grants = resolveScopes([meta], ada);
      assert.ok(!holdsAdminRole(grants));
      assert.ok(allows(grants, 'access:servers', { user: 'ada', server: '' }));
      assert.ok(!allows(grants, 'access:servers', { user: 'bob', server: '' }));
      assert.ok(!allows(grants, 'read:users', { user: 'bob' }));
      assert.ok(!allows(grants, 'admin:users'));
    }
    assert.ok(holdsAdminRole(resolveScopes(['inherit'], root)));
  });

  test('a token asking for more than its owner holds holds only the owner’s part, at every use', () => {
    // Written by hand into the store, or kept from when the owner was an admin.
    const grants = resolveScopes(
      ['admin', 'servers!user=bob', 'access:servers', 'admin:groups', 'read:users!user=ada'],
      ada,
    );
    assert.ok(!holdsAdminRole(grants));
    assert.ok(!allows(grants, 'servers', { user: 'bob' }));
    assert.ok(!allows(grants, 'access:servers', { user: 'bob', server: '' }));
    assert.ok(!allows(grants, 'admin:groups'));
    assert.ok(allows(grants, 'access:servers', { user: 'ada', server: '' }));
    assert.ok(allows(grants, 'read:users', { user: 'ada' }));
    // Only bob's name is left of `servers!user=bob` (an admin may let a service account read names).
    assert.deepEqual(
      reportScopes(grants).filter((s) => !s.endsWith('!user=ada')),
      ['read:users:name!user=bob'],
    );
  });

  test("a user's role is JupyterHub's `self`; an admin's the admin role, with Sifu's own scopes", () => {
    const self = reportScopes(roleGrants(ada));
    for (const s of [
      'read:users!user=ada',
      'servers!user=ada',
      'access:servers!user=ada',
      'tokens!user=ada',
    ]) {
      assert.ok(self.includes(s), s);
    }
    assert.ok(self.every((s) => s.endsWith('!user=ada')));
    const admin = roleGrants(root);
    assert.ok(holdsAdminRole(admin));
    for (const s of [
      'servers',
      'tokens',
      'admin:groups',
      'read:metrics',
      'launch',
      'courses',
      'proxy',
      'read:hub',
    ]) {
      assert.ok(allows(admin, s), s);
    }
  });
});

describe('JupyterHub scopes: making a token (attempts to escalate)', () => {
  const adaGrants = roleGrants(ada);
  const rootGrants = roleGrants(root);

  test('a learner may ask for her own resources, in either language', () => {
    assert.deepEqual(checkRequestedScopes(['servers', 'servers'], ada, adaGrants), ['servers']);
    checkRequestedScopes(
      ['servers!user=ada', 'access:servers!server=ada/', 'read:users:activity!user=ada'],
      ada,
      adaGrants,
    );
    checkRequestedScopes(['inherit', 'self', 'tokens!user'], ada, adaGrants);
  });

  // Beyond what the owner may hold: 400 (invalid); what she may hold but does not: 403 (missing).
  for (const [scope, code] of [
    ['servers!user=bob', invalid],
    ['access:servers!server=bob/', invalid],
    ['admin', invalid],
    ['admin:servers', invalid],
    ['admin:groups', invalid],
    ['read:groups!group=c1', invalid],
    ['read:users!group=c1', missing],
    ['proxy', invalid],
    ['users!user=ada', missing],
    ['read:users', missing],
    ['list:users', missing],
    ['admin:users', missing],
    ['read:metrics', missing],
    ['launch', missing],
    ['courses', missing],
  ] as const) {
    test(`a learner cannot grant '${scope}' (${code.code})`, () => {
      assert.throws(() => checkRequestedScopes([scope], ada, adaGrants), code);
    });
  }

  test('an admin cannot give a learner’s token another user’s resources, groups or the admin role', () => {
    for (const scope of [
      'admin',
      'servers!user=bob',
      'access:servers',
      'admin:servers',
      'tokens!user=bob',
      'admin:groups',
      'read:groups',
      'proxy',
      'read:hub',
    ]) {
      assert.throws(() => checkRequestedScopes([scope], ada, rootGrants), invalid, scope);
    }
    checkRequestedScopes(['servers!user=ada', 'inherit'], ada, rootGrants);
  });

  test("an admin may give a service account Sifu's grantable scopes; inherit stays its own role", () => {
    const xblock = { name: 'xblock', admin: false };
    checkRequestedScopes(
      ['launch', 'courses', 'read:users', 'admin:users', 'read:metrics'],
      xblock,
      rootGrants,
    );
    const grants = resolveScopes(['launch', 'inherit'], xblock);
    assert.ok(allows(grants, 'launch'));
    assert.ok(!allows(grants, 'read:users'), 'inherit is the role, not what an admin could grant');
    assert.ok(!allows(grants, 'servers', { user: 'ada' }));
  });

  test('a creator holding a narrow token cannot widen it', () => {
    const narrow = resolveScopes(['servers!server=root/', 'tokens'], root);
    checkRequestedScopes(['servers!server=root/'], root, narrow);
    assert.throws(() => checkRequestedScopes(['servers!user=root'], root, narrow), missing);
    assert.throws(() => checkRequestedScopes(['servers!user=ada'], root, narrow), missing);
    assert.throws(() => checkRequestedScopes(['inherit'], root, narrow), missing);
    assert.throws(() => checkRequestedScopes(['admin'], root, narrow), missing);
    assert.throws(() => checkRequestedScopes(['launch'], root, narrow), missing);
  });

  test('asking for one’s own token more than one holds is 400, as JupyterHub answers', () => {
    assert.throws(
      () => checkRequestedScopes(['launch'], ada, adaGrants, undefined, { creatorIsOwner: true }),
      invalid,
    );
    assert.throws(() => checkRequestedScopes(['launch'], ada, adaGrants), missing);
  });

  test('malformed scopes are refused as invalid, not as missing', () => {
    assert.throws(() => checkRequestedScopes(['servers!user=../../x'], ada, adaGrants), invalid);
  });
});

describe("Sifu's coarse scopes over JupyterHub's", () => {
  test('a session is its user’s role; a token its resolved scopes', () => {
    const session: Identity = {
      userName: 'ada',
      admin: false,
      scopes: new Set(['servers', 'tokens']),
      via: 'session',
    };
    assert.ok(allows(grantsOf(session), 'access:servers', { user: 'ada', server: '' }));
    assert.ok(!hasScope(session, 'admin'));
    const grants = resolveScopes(['servers!user=bob'], root);
    const token: Identity = {
      userName: 'root',
      admin: false,
      scopes: sifuScopesOf(grants, 'root'),
      via: 'token',
      grants,
    };
    assert.ok(mayActOn(token, 'bob', 'servers'));
    assert.ok(!mayActOn(token, 'root', 'servers'), 'a token for bob’s servers is not one for its owner’s');
    assert.ok(!mayActOn(token, 'carol', 'servers'));
    assert.ok(!hasScope(token, 'read:users'));
    assert.deepEqual([...token.scopes], []);
  });

  test('the admin role amounts to Sifu’s admin', () => {
    assert.ok(sifuScopesOf(roleGrants(root), 'root').has('admin'));
    assert.ok(!sifuScopesOf(resolveScopes(['admin:users', 'admin:servers'], root), 'root').has('admin'));
  });
});
