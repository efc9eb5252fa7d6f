/**
 * The store contract: one suite that every backend must pass, so SQLite and PostgreSQL
 * are proven to behave alike (river's `riverdrivertest.Exercise`). Time is injected
 * through `now`, so nothing here waits on the clock except the wake-up tests.
 */

import { afterAll, describe } from "bun:test";
import type { Store } from "../../src/store/store.ts";
import { claimOrderContract } from "./contract-claim-order.ts";
import { claimUpgradeContract } from "./contract-claim-upgrade.ts";
import { completeManyContract } from "./contract-complete-many.ts";
import { dependenciesContract } from "./contract-dependencies.ts";
import { failResultContract } from "./contract-fail-result.ts";
import { flowContract } from "./contract-flow.ts";
import { foldersContract } from "./contract-folders.ts";
import type { StoreBackend, WithStore } from "./contract-helpers.ts";
import { historyContract } from "./contract-history.ts";
import { jobPageContract } from "./contract-job-page.ts";
import { jobfileMemoryContract } from "./contract-jobfile-memory.ts";
import { jobfileContract } from "./contract-jobfiles.ts";
import { jobfileUpgradeContract } from "./contract-jobfiles-upgrade.ts";
import { jobsContract } from "./contract-jobs.ts";
import { leasesContract } from "./contract-leases.ts";
import { lifecycleContract } from "./contract-lifecycle.ts";
import { limitsContract } from "./contract-limits.ts";
import { nextDueContract } from "./contract-next-due.ts";
import { scheduleContract } from "./contract-schedules.ts";
import { schemaContract } from "./contract-schema.ts";
import { streamsContract } from "./contract-streams.ts";
import { settingsTransferContract, transferContract } from "./contract-transfer.ts";
import { transferIdsContract } from "./contract-transfer-ids.ts";
import { workersContract } from "./contract-workers.ts";

export type { StoreBackend, StoreLocation } from "./contract-helpers.ts";

/** A counting semaphore: `work` starts once fewer than `limit` others are running. */
function limiter(limit: number): <T>(work: () => Promise<T>) => Promise<T> {
  let running = 0;
  const queue: (() => void)[] = [];
  return async (work) => {
    if (running < limit) running++;
    else await new Promise<void>((resolve) => queue.push(resolve));
    try {
      return await work();
    } finally {
      // A waiter takes the slot over as it is; only an idle slot is given back.
      const next = queue.shift();
      if (next) next();
      else running--;
    }
  };
}

/**
 * The contract's sections in three parts of about equal time on PostgreSQL, so that a backend
 * whose tests wait on a server can spread them over three test files (and so over three of
 * `bun test --parallel`'s processes). Without `part`, every section runs.
 */
export type ContractPart = 1 | 2 | 3;

export function storeContract(backend: StoreBackend, part?: ContractPart): void {
  const atOnce = backend.testsAtOnce ?? 1;
  const slot = limiter(atOnce);
  const withStore: WithStore = (test) => () => slot(() => runOnFreshLocation(test));
  const runOnFreshLocation = async (test: Parameters<WithStore>[0]) => {
    const location = await backend.create();
    const opened: Store[] = [];
    const open = async (at = location) => {
      const store = await at.open();
      opened.push(store);
      return store;
    };
    const fresh = async () => open(await backend.create());
    try {
      await test({ store: await open(), location, another: () => open(), fresh });
    } finally {
      await Promise.all(opened.map((store) => store.close()));
    }
  };

  const title =
    part === undefined ? `store contract: ${backend.name}` : `store contract: ${backend.name} (part ${part})`;
  (atOnce > 1 ? describe.concurrent : describe)(title, () => {
    afterAll(() => backend.cleanup());
    const runs = (section: ContractPart) => part === undefined || part === section;
    if (runs(1)) {
      jobsContract(withStore);
      jobPageContract(withStore);
      lifecycleContract(withStore);
      leasesContract(withStore);
      completeManyContract(withStore);
      workersContract(withStore);
    }
    if (runs(2)) {
      jobfileContract(withStore);
      failResultContract(withStore);
      jobfileMemoryContract(withStore);
      jobfileUpgradeContract(backend);
      transferContract(withStore);
      transferIdsContract(withStore);
      streamsContract(withStore);
      historyContract(withStore);
      settingsTransferContract(withStore);
    }
    if (runs(3)) {
      flowContract(withStore);
      scheduleContract(withStore);
      dependenciesContract(withStore);
      foldersContract(withStore);
      limitsContract(withStore);
      nextDueContract(withStore);
      claimOrderContract(withStore);
      claimUpgradeContract(backend);
      schemaContract(withStore, backend);
    }
  });
}
