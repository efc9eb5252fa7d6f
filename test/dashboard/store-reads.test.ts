/**
 * The dashboard's store reads that hold rules (per-queue outcomes, when a pending job
 * started waiting, dependency links) give the same answers on SQLite and PostgreSQL.
 */

import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { SQL } from "bun";
import { openPostgresStore } from "../../src/store/postgres/backend.ts";
import type { Store } from "../../src/store/store.ts";
import { type TempHome, tempHome } from "../helpers/cli.ts";
import { enqueue, openTestStore, runJob } from "./fixtures.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

const T0 = Date.UTC(2026, 5, 1);
const BOUNDS = { durationBoundsMs: [1000], waitBoundsMs: [1000] };

interface Backend {
  name: string;
  open(): Promise<Store>;
}

const homes: TempHome[] = [];
const backends: Backend[] = [
  {
    name: "sqlite",
    async open() {
      const home = tempHome();
      homes.push(home);
      return openTestStore(home.home);
    },
  },
];

const pgUrl = process.env.QUEUECTL_TEST_PG_URL;
const schemas: string[] = [];
if (pgUrl) {
  const prefix = `qc_dash_${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
  backends.push({
    name: "postgres",
    async open() {
      const schema = `${prefix}_${schemas.length + 1}`;
      schemas.push(schema);
      return openPostgresStore(`${pgUrl}${pgUrl.includes("?") ? "&" : "?"}schema=${schema}`);
    },
  });
} else {
  console.warn("store-reads: PostgreSQL skipped; set QUEUECTL_TEST_PG_URL to run it on both backends");
}

afterAll(async () => {
  for (const home of homes) home.cleanup();
  if (pgUrl && schemas.length > 0) {
    const admin = new SQL(pgUrl, { max: 1 });
    for (const schema of schemas) await admin.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.close();
  }
});

for (const backend of backends) {
  describe(`dashboard reads on ${backend.name}`, () => {
    test("outcomes are counted per queue; a due job waits from the later of enqueue and run time", async () => {
      const store = await backend.open();
      try {
        await enqueue(store, { id: "ok", command: "true" }, T0);
        await runJob(store, "ok", { start: T0 + 100, end: T0 + 200, exitCode: 0 });
        await enqueue(store, { id: "bad", command: "false", queue: "emails", max_retries: 1 }, T0 + 300);
        await runJob(store, "bad", { start: T0 + 400, end: T0 + 500, exitCode: 1 });
        await runJob(store, "bad", { start: T0 + 600, end: T0 + 700, exitCode: 1 });
        // Enqueued at T0 + 10 s with a run_at a year before: waiting since T0 + 10 s.
        const longAgo = new Date(T0 - 365 * 86_400_000).toISOString();
        await enqueue(store, { id: "mail", command: "true", queue: "emails", run_at: longAgo }, T0 + 10_000);
        await enqueue(store, { id: "plain", command: "true" }, T0 + 20_000);
        await enqueue(store, { id: "future", command: "true", delay: "1h" }, T0 + 5000);
        const snapshot = await store.metricsSnapshot({ now: T0 + 60_000, ...BOUNDS });
        expect(snapshot.attemptsByQueue).toEqual([
          { queue: "default", completed: 1, failed: 0, dead: 0, retries: 0 },
          { queue: "emails", completed: 0, failed: 1, dead: 1, retries: 1 },
        ]);
        expect(snapshot.oldestDueByQueue).toEqual([
          { queue: "default", since: T0 + 20_000 },
          { queue: "emails", since: T0 + 10_000 },
        ]);
        expect(snapshot.duration.count).toBe(3);
      } finally {
        await store.close();
      }
    });

    test("a claim handed back unstarted leaves the wait to the job's first real attempt", async () => {
      const store = await backend.open();
      try {
        await enqueue(store, { id: "ahead", command: "true" }, T0);
        const claim = { workerId: "w", host: "h", leaseMs: 1000 };
        const first = await store.jobClaim({ ...claim, now: T0 + 100 });
        const release = { id: "ahead", token: first?.token ?? 0, now: T0 + 200, reason: "handed back" };
        expect(await store.jobRelease({ ...release, unstarted: true })).toBe(true);
        const second = await store.jobClaim({ ...claim, now: T0 + 2000 });
        expect(second?.token).toBe(2);
        const { wait } = await store.metricsSnapshot({ now: T0 + 3000, ...BOUNDS });
        expect(wait.count).toBe(1);
        expect(wait.sumMs).toBe(2000);
      } finally {
        await store.close();
      }
    });

    test("dependency links: what a job waits for, and what waits for it", async () => {
      const store = await backend.open();
      try {
        await enqueue(store, { id: "build", command: "make" }, T0);
        await enqueue(store, { id: "test", command: "make test", after: ["build"] }, T0 + 1);
        await enqueue(store, { id: "ship", command: "make ship", after: ["test", "build"] }, T0 + 2);
        expect(await store.jobDependencyLinks({ id: "ship", limit: 10 })).toEqual({
          upstream: [
            { id: "build", state: "pending" },
            { id: "test", state: "pending" },
          ],
          downstream: [],
          downstreamTotal: 0,
        });
        expect(await store.jobDependencyLinks({ id: "build", limit: 1 })).toEqual({
          upstream: [],
          downstream: [{ id: "test", state: "pending" }],
          downstreamTotal: 2,
        });
        expect(await store.jobDependencyLinks({ id: "no-such-job", limit: 10 })).toEqual({
          upstream: [],
          downstream: [],
          downstreamTotal: 0,
        });
      } finally {
        await store.close();
      }
    });
  });
}
