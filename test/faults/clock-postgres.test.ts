/**
 * Hosts whose clocks disagree, on one PostgreSQL queue. Each host's worker stamps leases on
 * the server's clock (store-clock.ts), so a host minutes behind keeps its jobs and a host
 * minutes ahead neither steals them nor keeps a dead worker's job for those minutes. Two
 * real Worker loops in this process, each with its own skewed wall clock, running real job
 * processes in a fresh schema. Without the server's clock each case below fails: the host
 * behind writes leases that the host ahead sees ten minutes expired.
 */

import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { SQL } from "bun";
import { openPostgresStore, type PostgresStore } from "../../src/store/postgres/backend.ts";
import type { WorkerEvent } from "../../src/worker/events.ts";
import { Worker } from "../../src/worker/loop.ts";
import { type TempHome, tempHome, waitFor } from "../helpers/cli.ts";
import { enqueueSpecs } from "../helpers/enqueue.ts";
import { lineCounts } from "./helpers.ts";

setDefaultTimeout(90_000);

const PG_URL = process.env.QUEUECTL_TEST_PG_URL;
const MINUTES_10 = 600_000;
const LEASE_MS = 2_000;

interface Host {
  worker: Worker;
  run: Promise<void>;
  events: WorkerEvent[];
}

describe.skipIf(!PG_URL)("hosts with clocks ten minutes apart share one PostgreSQL queue", () => {
  let home: TempHome;
  let schema: string;
  let url: string;
  let stores: PostgresStore[];
  let hosts: Host[];

  beforeEach(async () => {
    home = tempHome();
    schema = `qc_clock_${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
    url = `${PG_URL}${PG_URL?.includes("?") ? "&" : "?"}schema=${schema}`;
    stores = [];
    hosts = [];
    const store = await open();
    await store.configSet({ key: "lease", value: String(LEASE_MS / 1000) });
    await store.configSet({ key: "poll-interval", value: "0.1" });
  });

  afterEach(async () => {
    try {
      for (const { worker } of hosts) worker.escalate();
      await Promise.allSettled(hosts.map(({ run }) => run));
    } finally {
      for (const store of stores) await store.close().catch(() => {});
      const admin = new SQL(PG_URL as string, { max: 1 });
      await admin.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.close();
      home.cleanup();
    }
  });

  async function open(): Promise<PostgresStore> {
    const store = await openPostgresStore(url);
    stores.push(store);
    return store;
  }

  /** A worker on a host whose wall clock is `skewMs` off the server's. */
  async function startHost(name: string, skewMs: number): Promise<WorkerEvent[]> {
    const events: WorkerEvent[] = [];
    const worker = new Worker({
      store: await open(),
      home: join(home.home, name),
      host: name,
      concurrency: 1,
      queues: null,
      drain: false,
      onEvent: (event) => events.push(event),
      now: () => Date.now() + skewMs,
    });
    hosts.push({ worker, run: worker.run(), events });
    await waitFor(() => events.some((event) => event.type === "started"), { what: `${name} to start` });
    return events;
  }

  const runsFile = () => join(home.home, "runs.log");
  const job = (id: string, seconds: number) => ({
    id,
    command: `echo "$QUEUECTL_JOB_ID" >> ${runsFile()}; sleep ${seconds}`,
    max_retries: 3,
  });
  const stateOf = async (id: string) => (await stores[0]?.jobGet({ id }))?.state;
  const serverNow = () => (stores[0] as PostgresStore).clockNow();

  test("the host behind keeps its job; its lease is stamped on the server's clock", async () => {
    const behind = await startHost("behind", -MINUTES_10);
    await enqueueSpecs(stores[0] as PostgresStore, [job("long", 5)]);
    await waitFor(async () => (await stateOf("long")) === "processing", { what: "the host behind to claim" });
    const claimed = await stores[0]?.jobGet({ id: "long" });
    const stampedFrom = (claimed?.lease_until ?? 0) - LEASE_MS;
    expect(Math.abs(stampedFrom - (await serverNow()))).toBeLessThan(LEASE_MS);

    // The host ahead sees the lease on the server's clock too: nothing to rescue.
    const ahead = await startHost("ahead", MINUTES_10);
    await waitFor(async () => (await stateOf("long")) === "completed", {
      timeoutMs: 60_000,
      what: "the long job to complete",
    });
    const taken = [...behind, ...ahead].filter(
      (event) => event.type === "rescued" || event.type === "lease-lost",
    );
    expect(taken).toEqual([]);
    expect(lineCounts(runsFile()).get("long")).toBe(1);
  });

  test("the host behind rescues a dead worker's job within the lease, not ten minutes later", async () => {
    // A crashed worker's claim, stamped on the server's clock as every worker stamps it.
    const store = stores[0] as PostgresStore;
    await enqueueSpecs(store, [job("held", 0)]);
    const claimedAt = await serverNow();
    const claimed = await store.jobClaim({
      workerId: "crashed",
      host: "ahead",
      now: claimedAt,
      leaseMs: LEASE_MS,
    });
    expect(claimed?.id).toBe("held");
    const rescuer = await startHost("behind", -MINUTES_10);
    await waitFor(async () => (await stateOf("held")) === "completed", {
      timeoutMs: 30_000,
      what: "the dead worker's job to be rescued and run",
    });
    expect(
      rescuer.filter((event) => event.type === "rescued").map((event) => (event as { jobId: string }).jobId),
    ).toEqual(["held"]);
    expect(lineCounts(runsFile()).get("held")).toBe(1);
  });
});
