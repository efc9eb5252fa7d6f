/**
 * `status` only reads. A worker row whose pid this host cannot see (another container or
 * pid namespace with the same host name, or QUEUECTL_HOST) is a live worker as long as it
 * heartbeats: `status` shows it and leaves it, and `worker stop --all` still reaches it.
 * Liveness follows the heartbeat interval, not the lease.
 */

import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { SqliteStore } from "../../src/store/sqlite/backend.ts";
import type { Store } from "../../src/store/store.ts";
import type { WorkerEvent } from "../../src/worker/events.ts";
import { Worker } from "../../src/worker/loop.ts";
import { runCli, runCliJson, type TempHome, tempHome, waitFor } from "../helpers/cli.ts";

setDefaultTimeout(60_000);

const HOST = "status-test-host";
/** No process has this pid here: the kernel's pid_max is far lower. */
const INVISIBLE_PID = 2 ** 30;

interface StatusJson {
  workers: { id: string; pid: number; alive: boolean }[];
}

let home: TempHome;
let store: Store;

beforeEach(() => {
  home = tempHome({ QUEUECTL_HOST: HOST });
  store = new SqliteStore(join(home.home, "jobs.db"));
});
afterEach(async () => {
  await store.close();
  home.cleanup();
});

describe("status reads, never writes", () => {
  test("a heartbeating worker whose pid is not visible here is shown alive, kept, and stopped by `worker stop --all`", async () => {
    await store.configSet({ key: "lease", value: "2" });
    const events: WorkerEvent[] = [];
    const worker = new Worker({
      store: new SqliteStore(join(home.home, "jobs.db")),
      home: home.home,
      host: HOST,
      concurrency: 1,
      queues: null,
      drain: false,
      onEvent: (event) => events.push(event),
      pid: INVISIBLE_PID,
    });
    const run = worker.run();
    await waitFor(async () => (await store.workerList()).length === 1, { what: "the worker to register" });
    for (let i = 0; i < 2; i++) {
      const status = await runCliJson<StatusJson>(["status"], { env: home.env });
      expect(status.workers.map((w) => [w.pid, w.alive])).toEqual([[INVISIBLE_PID, true]]);
    }
    expect((await store.workerList()).map((w) => w.id)).toEqual([worker.id]);
    const stop = await runCli(["worker", "stop", "--all", "--json"], { env: home.env });
    expect(stop.exitCode).toBe(0);
    expect(JSON.parse(stop.stdout).remote_asked).toBe(1);
    await run;
    expect(events.some((event) => event.type === "stopping" && event.reason === "requested")).toBe(true);
    expect(await store.workerList()).toEqual([]);
  });

  test("with a 10-minute lease, a worker silent for 30 s is shown lost, and its row stays", async () => {
    await store.configSet({ key: "lease", value: "600" });
    const now = Date.now();
    await store.workerRegister({
      id: "gone",
      host: HOST,
      pid: INVISIBLE_PID,
      now: now - 60_000,
      queues: null,
    });
    await store.workerHeartbeat({ id: "gone", now: now - 30_000 });
    const status = await runCliJson<StatusJson>(["status"], { env: home.env });
    expect(status.workers.map((w) => [w.id, w.alive])).toEqual([["gone", false]]);
    const text = await runCli(["status"], { env: home.env });
    // 30 s plus however long the two status runs took on a loaded machine.
    expect(text.stdout).toMatch(/Lost \(no heartbeat for [3-5]\ds\)/);
    expect((await store.workerList()).map((w) => w.id)).toEqual(["gone"]);
  });
});
