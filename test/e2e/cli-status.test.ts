/** `status` names the job each worker runs, and for how long, from the store alone. */

import { expect, setDefaultTimeout, test } from "bun:test";
import { runCliJson } from "../helpers/cli.ts";
import { enqueue, ok, withStore, workerTestContext } from "../worker/helpers.ts";

setDefaultTimeout(60_000);

const context = workerTestContext();

interface StatusJson {
  workers: { id: string }[];
  running: { worker_id: string; id: string; command: string; running_ms: number }[];
}

test("each worker shows the job it runs and for how long; an idle one says so", async () => {
  await enqueue(context.home, { id: "build", command: "make build", run_at: "2020-01-01T00:00:00Z" });
  const now = Date.now();
  await withStore(context.home, async (store) => {
    // Workers on another host: this host's `status` leaves their rows alone.
    for (const id of ["busy", "idle"]) {
      await store.workerRegister({ id, host: "far-host", pid: 4242, now, queues: null });
    }
    const claimed = await store.jobClaim({
      workerId: "busy",
      host: "far-host",
      now: now - 65_000,
      leaseMs: 600_000,
    });
    expect(claimed?.id).toBe("build");
  });
  const json = await runCliJson<StatusJson>(["status"], { env: context.home.env });
  expect(json.workers.map((worker) => worker.id).sort()).toEqual(["busy", "idle"]);
  expect(json.running.map((job) => [job.worker_id, job.id, job.command])).toEqual([
    ["busy", "build", "make build"],
  ]);
  expect(json.running[0]?.running_ms).toBeGreaterThanOrEqual(65_000);
  const human = ok(await context.cli("status"));
  expect(human).toMatch(/\n {6}running build for 1m\d+s: make build\n/);
  expect(human).toContain("\n      idle\n");
});

test("status says whether a webhook secret is set, never what it is", async () => {
  const secret = "s3cret-that-signs-webhooks";
  ok(await context.cli("config", "set", "webhook-secret", secret));
  const json = await runCliJson<{ config: Record<string, unknown> }>(["status"], { env: context.home.env });
  expect(json.config["webhook-secret"]).toBe("set");
  const human = ok(await context.cli("status"));
  expect(human).toContain("webhook-secret: set");
  expect(human).not.toContain(secret);
  expect(ok(await context.cli("config", "get", "webhook-secret")).trim()).toBe(secret);
});
