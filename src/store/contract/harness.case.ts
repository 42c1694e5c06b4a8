/** What the contract suite needs from an implementation's test file, and what it hands to each case file. */
import type { Store } from '../store.js';

export interface StoreHarness {
  /** A store on a fresh, empty database: not migrated yet. */
  store: Store;
  /** Closes the store and removes its database. */
  cleanup(): Promise<void>;
  /**
   * Opens a second store on the same database, as a second Sifu process or replica would; the suite
   * closes it. Required with `{ secondHandle: true }`.
   */
  reopen?: () => Promise<Store>;
}

export interface StoreContractOptions {
  /**
   * Run the tests that use two handles on one database (`reopen`) in this process. Leave it off where that
   * cannot work (SQLite's synchronous driver would block the event loop on the other handle's lock) and
   * test several processes in the implementation's own test file instead.
   */
  secondHandle?: boolean;
}

/** Handed to each `<resource>.case.ts`, whose cases run inside the suite's `describe`. */
export interface ContractContext {
  /** The running test's store: on a fresh database, migrated. Call it inside a test or hook. */
  store(): Store;
  /** Another fresh, empty database (not migrated); the test must call its `cleanup()`. */
  makeStore(): Promise<StoreHarness>;
  /** A second handle on `harness`'s database; the caller closes it. Needs `{ secondHandle: true }`. */
  reopen(harness: StoreHarness): Promise<Store>;
  /** Runs `body` with a second handle on the running test's database, then closes that handle. */
  withSecondHandle(body: (other: Store) => Promise<void>): Promise<void>;
  /** The `skip` option of the tests that need a second handle: false when they can run. */
  secondHandleSkip: string | false;
}
