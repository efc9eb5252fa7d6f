/**
 * Clock jumps. On SQLite every process sits on one host and reads one wall clock: a lease
 * is written (`now + lease`) and compared (`lease_until < now`) against that same clock.
 * What can still happen is that clock jumping (an NTP step, a suspended VM or laptop
 * resuming). These tests run two real workers (the Worker loop, in process, so that their
 * shared clock can be moved) with real job processes on a real SQLite file.
 *
 * - Forward: every lease looks expired at once. A live worker renews its leases within one
 *   heartbeat, so others only rescue a lease they have seen expired and unrenewed for two
 *   heartbeats of monotonic time: no job runs twice.
 * - Backward: leases look longer than they are; nothing runs twice, and work due before the
 *   jump waits until the clock reaches its time again (a delay as long as the jump).
 */

import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { resolveConfig } from "../../src/core/config.ts";
import { parseJobInput, prepareJobs } from "../../src/core/job-input.ts";
import { enqueuePrepared } from "../../src/flow/enqueue.ts";
import { openStore } from "../../src/store/open.ts";
import type { Store } from "../../src/store/store.ts";
import type { WorkerEvent } from "../../src/worker/events.ts";
import { Worker } from "../../src/worker/loop.ts";
import { type TempHome, tempHome, waitFor } from "../helpers/cli.ts";
import { lineCounts } from "./helpers.ts";

setDefaultTimeout(120_000);

const HOUR = 3_600_000;

let home: TempHome;
let stores: Store[];
let workers: { worker: Worker; run: Promise<void>; events: WorkerEvent[] }[];
/** The host's wall clock as the workers see it: real time plus a jump the test controls. */
let offset: number;
const clock = () => Date.now() + offset;

beforeEach(async () => {
  home = tempHome();
  stores = [];
  workers = [];
  offset = 0;
  const store = await open();
  await store.configSet({ key: "lease", value: "2" });
  await store.configSet({ key: "poll-interval", value: "0.1" });
  await store.configSet({ key: "backoff-base", value: "1" });
});
afterEach(async () => {
  for (const { worker } of workers) worker.escalate();
  await Promise.all(workers.map(({ run }) => run));
  for (const store of stores) await store.close();
  home.cleanup();
});

async function open(): Promise<Store> {
  const store = await openStore({ url: join(home.home, "jobs.db"), synchronous: "NORMAL" });
  stores.push(store);
  return store;
}

async function startWorker(concurrency: number): Promise<WorkerEvent[]> {
  const events: WorkerEvent[] = [];
  const worker = new Worker({
    store: await open(),
    home: home.home,
    host: "clock-test",
    concurrency,
    queues: null,
    drain: false,
    onEvent: (event) => events.push(event),
    now: clock,
  });
  workers.push({ worker, run: worker.run(), events });
  return events;
}

/** Enqueues as the CLI does, at the host's (possibly jumped) time. */
async function enqueue(specs: Record<string, unknown>[]): Promise<void> {
  const now = clock();
  const prepared = prepareJobs(
    parseJobInput(specs.map((spec) => JSON.stringify(spec)).join("\n"), "test", "ndjson"),
    "test",
    resolveConfig({}),
    now,
  );
  await enqueuePrepared(stores[0] as Store, prepared, now);
}

const runsFile = () => join(home.home, "runs.log");
const job = (id: string, seconds: number) => ({
  id,
  command: `echo "$QUEUECTL_JOB_ID" >> ${runsFile()}; sleep ${seconds}`,
  max_retries: 5,
});

async function states(): Promise<Record<string, string>> {
  const jobs = await (stores[0] as Store).jobList({});
  return Object.fromEntries(jobs.map((j) => [j.id, j.state]));
}

describe("a clock jump under running workers", () => {
  test("forward by an hour: no lease is taken from a live worker, every job runs once", async () => {
    const events = [await startWorker(2), await startWorker(2)];
    await enqueue([job("a", 4), job("b", 4), job("c", 4), job("d", 4)]);
    // Both workers hold jobs, so whichever heartbeats first after the jump sees the other's
    // leases an hour past their end.
    await waitFor(async () => Object.values(await states()).every((state) => state === "processing"), {
      what: "both workers to run two jobs each",
    });
    offset += HOUR;
    await waitFor(async () => Object.values(await states()).every((state) => state === "completed"), {
      timeoutMs: 60_000,
      what: "every job to complete",
    });
    const rescues = events.flat().filter((event) => event.type === "rescued" || event.type === "lease-lost");
    expect(rescues).toEqual([]);
    expect(Object.fromEntries(lineCounts(runsFile()))).toEqual({ a: 1, b: 1, c: 1, d: 1 });
  });

  test("forward by an hour: a worker that really died is still rescued, once", async () => {
    const survivor = await startWorker(1);
    await enqueue([job("orphan", 0)]);
    await waitFor(async () => (await states()).orphan === "completed", { what: "a first job" });
    // A crashed worker's claim, written straight into the store: it holds a job and is gone.
    const store = stores[0] as Store;
    await enqueue([job("held", 0)]);
    const claimed = await store.jobClaim({
      workerId: "crashed",
      host: "clock-test",
      now: clock(),
      leaseMs: 2000,
    });
    expect(claimed?.id).toBe("held");
    offset += HOUR;
    await waitFor(async () => (await states()).held === "completed", {
      timeoutMs: 30_000,
      what: "the dead worker's job to be rescued and run",
    });
    expect(
      survivor.filter((event) => event.type === "rescued").map((event) => (event as { jobId: string }).jobId),
    ).toEqual(["held"]);
    expect(lineCounts(runsFile()).get("held")).toBe(1);
  });

  test("backward by an hour: nothing runs twice; work due before the jump waits for its time", async () => {
    const events = [await startWorker(2), await startWorker(2)];
    await enqueue([job("a", 3), job("b", 3), job("c", 3), job("d", 3)]);
    await waitFor(async () => Object.values(await states()).every((state) => state === "processing"), {
      what: "both workers to run two jobs each",
    });
    // Queued just before the jump: due at a time the clock now reaches only in an hour.
    await enqueue([job("queued-before", 0)]);
    offset -= HOUR;
    await enqueue([job("queued-after", 0)]);
    await waitFor(
      async () => {
        const now = await states();
        return ["a", "b", "c", "d", "queued-after"].every((id) => now[id] === "completed");
      },
      { timeoutMs: 60_000, what: "the running jobs and the new one to complete" },
    );
    expect((await states())["queued-before"]).toBe("pending");
    const rescues = events.flat().filter((event) => event.type === "rescued" || event.type === "lease-lost");
    expect(rescues).toEqual([]);
    // Once the clock is back where it was, the waiting job runs; nothing was lost.
    offset = 0;
    await waitFor(async () => (await states())["queued-before"] === "completed", {
      timeoutMs: 30_000,
      what: "the job queued before the jump",
    });
    expect(Object.fromEntries(lineCounts(runsFile()))).toEqual({
      a: 1,
      b: 1,
      c: 1,
      d: 1,
      "queued-before": 1,
      "queued-after": 1,
    });
  });
});
