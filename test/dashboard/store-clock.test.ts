/**
 * Worker liveness on the dashboard follows the store's clock, as `status` does: on
 * PostgreSQL heartbeats carry the server's time, so a dashboard on a host whose own clock
 * is off must still call a live worker alive. The dashboard runs in process with its host
 * clock set ten minutes ahead; the store keeps the real one. On both backends.
 */

import { expect, setDefaultTimeout, test } from "bun:test";
import { startDashboard } from "../../src/dashboard/server.ts";
import type { Store } from "../../src/store/store.ts";
import { forEachBackend } from "../flow/helpers.ts";

setDefaultTimeout(30_000);

const TOKEN = "store-clock-test-token-0123456789";
const AUTH = { headers: { authorization: `Bearer ${TOKEN}` } };
const HOST_CLOCK_AHEAD_MS = 10 * 60_000;

interface WorkerJson {
  id: string;
  alive: boolean;
  heartbeat_age_ms: number;
}

/** A dashboard on a host whose own clock is ten minutes ahead of the store's. */
function aheadDashboard(store: Store) {
  return startDashboard({
    store,
    host: "127.0.0.1",
    port: 0,
    token: TOKEN,
    clock: () => Date.now() + HOST_CLOCK_AHEAD_MS,
  });
}

forEachBackend((backend) => {
  test("a live worker is alive on /api/status, /api/workers and /metrics whatever this host's clock says", async () => {
    const store = await backend.store();
    await store.workerRegister({ id: "w-1", host: "h", pid: 1, now: await store.clockNow(), queues: null });
    const dashboard = await aheadDashboard(store);
    try {
      const status = (await (await fetch(`${dashboard.url}api/status`, AUTH)).json()) as {
        workers: WorkerJson[];
      };
      expect(status.workers.map((worker) => [worker.id, worker.alive])).toEqual([["w-1", true]]);
      expect(status.workers[0]?.heartbeat_age_ms).toBeLessThan(HOST_CLOCK_AHEAD_MS / 2);
      const workers = (await (await fetch(`${dashboard.url}api/workers`, AUTH)).json()) as WorkerJson[];
      expect(workers.map((worker) => worker.alive)).toEqual([true]);
      const metrics = await (await fetch(`${dashboard.url}metrics`, AUTH)).text();
      expect(metrics).toContain('queuectl_workers{status="alive"} 1');
      expect(metrics).toContain('queuectl_workers{status="lost"} 0');
    } finally {
      await dashboard.stop();
    }
  });

  // On SQLite the host's clock is the store's: only PostgreSQL's server can disagree with it.
  test.skipIf(backend.name !== "postgres")(
    "a job queued through the API from a host ten minutes ahead is due now, on the server's clock",
    async () => {
      const store = await backend.store();
      const dashboard = await aheadDashboard(store);
      try {
        const posted = await fetch(`${dashboard.url}api/jobs`, {
          method: "POST",
          headers: { ...AUTH.headers, "content-type": "application/json" },
          body: JSON.stringify({ id: "via-api", command: "true" }),
        });
        expect(posted.status).toBe(201);
        const job = await store.jobGet({ id: "via-api" });
        expect((job?.next_run_at ?? Number.POSITIVE_INFINITY) - (await store.clockNow())).toBeLessThan(
          HOST_CLOCK_AHEAD_MS / 2,
        );
      } finally {
        await dashboard.stop();
      }
    },
  );
});
