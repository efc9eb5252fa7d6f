/**
 * `wait` and `logs --follow` wait out a store that cannot be reached (flow/patient-reads.ts):
 * on a real SQLite store whose reads fail as an unreachable PostgreSQL's do for a while,
 * the wait ends as the job does, the outage is told once and its end once, any other
 * failure comes through at once, and `--timeout` still ends the wait.
 */

import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StoreUnreachableError } from "../../src/core/errors.ts";
import { patientReads } from "../../src/flow/patient-reads.ts";
import { waitForJobs } from "../../src/flow/wait.ts";
import { SqliteStore } from "../../src/store/sqlite/backend.ts";
import type { Store } from "../../src/store/store.ts";
import { enqueueSpecs } from "../helpers/enqueue.ts";
import { runResult } from "../store/contract-helpers.ts";

let dir = "";
let store: SqliteStore;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "queuectl-patient-"));
  store = new SqliteStore(join(dir, "jobs.db"));
  await enqueueSpecs(store, [{ id: "j", command: "true" }]);
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** `store` whose jobGet fails with `failure()` while it returns an error. */
function failingReads(inner: Store, failure: () => Error | null): Store {
  return new Proxy(inner, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (property !== "jobGet" || typeof value !== "function") return value;
      return async (...args: unknown[]) => {
        const error = failure();
        if (error) throw error;
        return value.apply(target, args);
      };
    },
  });
}

const unreachable = () =>
  new StoreUnreachableError("cannot reach PostgreSQL at db:5432/queue (connection refused)", "");

test("an outage is waited out, told once when it starts and once when it ends", async () => {
  let failuresLeft = 3;
  const told: string[] = [];
  const flaky = failingReads(store, () => (failuresLeft-- > 0 ? unreachable() : null));
  const waiting = waitForJobs(
    patientReads(flaky, {
      onUnreachable: (error) => told.push(`down: ${error.message}`),
      onReachable: () => told.push("up"),
    }),
    { ids: ["j"], until: null },
  );
  const claimed = await store.jobClaim({ workerId: "w", host: "h", now: Date.now(), leaseMs: 60_000 });
  await store.jobComplete({
    id: "j",
    token: claimed?.token ?? 0,
    now: Date.now(),
    result: runResult(0),
  });
  const result = await waiting;
  expect(result.jobs.map((job) => job.state)).toEqual(["completed"]);
  expect(told).toEqual(["down: cannot reach PostgreSQL at db:5432/queue (connection refused)", "up"]);
});

test("any other failure comes through at once, and the deadline ends an outage's wait", async () => {
  const broken = failingReads(store, () => new Error("no such table: jobs"));
  const patience = { onUnreachable: () => {}, onReachable: () => {} };
  await expect(waitForJobs(patientReads(broken, patience), { ids: ["j"], until: null })).rejects.toThrow(
    "no such table",
  );
  const down = failingReads(store, unreachable);
  const started = Date.now();
  const known = await store.jobGet({ id: "j" });
  // A deadline inside the outage is a timeout, with the job as last read.
  const until = Date.now() + 300;
  const result = await waitForJobs(patientReads(down, { ...patience, until }), {
    ids: ["j"],
    until,
    known: known ? [known] : [],
  });
  expect(result).toMatchObject({ timedOut: true, unreachable: true, gone: [] });
  expect(result.jobs.map((job) => [job.id, job.state])).toEqual([["j", "pending"]]);
  // Not a timing assertion: only that the retries stopped at the deadline rather than going on.
  expect(Date.now() - started).toBeLessThan(30_000);
});
