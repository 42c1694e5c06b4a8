/**
 * The shared suite every `Store` implementation runs (as undici's `cacheStoreTests`): call
 * `storeContract('sqlite', makeStore)` from the implementation's test file. The cases live one file per
 * resource beside this one; this file gives each a fresh, migrated store per test.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe } from 'node:test';
import type { Store } from '../store.js';
import { courseNotebookCases } from './course-notebooks.case.js';
import { eventCases } from './events.case.js';
import { groupCases } from './groups.case.js';
import type { ContractContext, StoreContractOptions, StoreHarness } from './harness.case.js';
import { hostCases } from './hosts.case.js';
import { identityCases } from './identities.case.js';
import { leaseCases } from './leases.case.js';
import { lifecycleCases } from './lifecycle.case.js';
import { namedServerCases } from './named-servers.case.js';
import { serverCases } from './servers.case.js';
import { sessionCases } from './sessions.case.js';
import { settingCases } from './settings.case.js';
import { ticketCases } from './tickets.case.js';
import { tokenCases } from './tokens.case.js';
import { userUidCases } from './user-uids.case.js';
import { userCases } from './users.case.js';

export type { StoreContractOptions, StoreHarness } from './harness.case.js';

export function storeContract(
  name: string,
  makeStore: () => Promise<StoreHarness>,
  options: StoreContractOptions = {},
): void {
  const secondHandleSkip = options.secondHandle
    ? false
    : 'no second handle in this process (see StoreContractOptions)';

  describe(`Store contract: ${name}`, () => {
    let harness: StoreHarness;
    let store: Store;

    beforeEach(async () => {
      harness = await makeStore();
      store = harness.store;
      await store.migrate();
    });

    afterEach(async () => {
      await harness.cleanup();
    });

    function reopen(h: StoreHarness): Promise<Store> {
      assert.ok(h.reopen, 'secondHandle: true needs makeStore to return reopen()');
      return h.reopen();
    }

    const ctx: ContractContext = {
      store: () => store,
      makeStore,
      reopen,
      async withSecondHandle(body) {
        const other = await reopen(harness);
        try {
          await body(other);
        } finally {
          await other.close();
        }
      },
      secondHandleSkip,
    };

    lifecycleCases(ctx);
    userCases(ctx);
    groupCases(ctx);
    identityCases(ctx);
    userUidCases(ctx);
    serverCases(ctx);
    namedServerCases(ctx);
    tokenCases(ctx);
    sessionCases(ctx);
    ticketCases(ctx);
    courseNotebookCases(ctx);
    leaseCases(ctx);
    hostCases(ctx);
    settingCases(ctx);
    eventCases(ctx);
  });
}
