/**
 * The webhook outbox survives the worker: a real worker process SIGKILLed right after its
 * job ends, before it could deliver (the receiver is down), has its event delivered by the
 * next worker, because the delivery row was written with the job's state change. `show`
 * then lists the delivery. On SQLite, and on PostgreSQL when QUEUECTL_TEST_PG_URL is set.
 */

import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { SQL } from "bun";
import { openStore } from "../../src/store/open.ts";
import type { Store } from "../../src/store/store.ts";
import { runCli, waitFor } from "../helpers/cli.ts";
import { workerTestContext } from "../worker/helpers.ts";
import { Receiver } from "../worker/webhook-receiver.ts";

setDefaultTimeout(120_000);

const SECRET = "kill-test-secret-0123456789";
const PG_URL = process.env.QUEUECTL_TEST_PG_URL;
const context = workerTestContext();

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

/** The store URL of this test's queue: the home's SQLite file, or a fresh PostgreSQL schema. */
function storeUrl(backend: "sqlite" | "postgres"): string {
  if (backend === "sqlite") return join(context.home.home, "jobs.db");
  const schema = `qc_hooks_${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
  cleanups.push(async () => {
    const admin = new SQL(PG_URL ?? "", { max: 1 });
    await admin.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.close();
  });
  return `${PG_URL}${PG_URL?.includes("?") ? "&" : "?"}schema=${schema}`;
}

const backends: ("sqlite" | "postgres")[] = PG_URL ? ["sqlite", "postgres"] : ["sqlite"];
if (!PG_URL)
  console.warn("the webhook kill test on PostgreSQL is skipped: set QUEUECTL_TEST_PG_URL to run it");

for (const backend of backends) {
  describe(`webhooks after SIGKILL (${backend})`, () => {
    test("a worker killed right after its job ends still has the event delivered, once, by the next worker", async () => {
      const env = { QUEUECTL_DB: storeUrl(backend) };
      const cli = async (...args: string[]) => {
        const result = await runCli(args, { env: { ...context.home.env, ...env } });
        if (result.exitCode !== 0) throw new Error(`queuectl ${args.join(" ")}: ${result.stderr}`);
        return result.stdout;
      };
      const receiver = new Receiver(SECRET).start();
      cleanups.push(() => receiver.stop());
      await receiver.stop();
      for (const [key, value] of [
        ["lease", "2"],
        ["poll-interval", "0.1"],
        ["backoff-base", "1"],
        ["webhook-secret", SECRET],
      ] as const)
        await cli("config", "set", key, value);
      await cli("enqueue", JSON.stringify({ id: "report", command: "true", notify: [receiver.url()] }));
      const store: Store = await openStore({ url: env.QUEUECTL_DB });
      cleanups.push(() => store.close());

      const first = context.foreground([], env);
      await waitFor(async () => (await store.jobGet({ id: "report" }))?.state === "completed", {
        timeoutMs: 30_000,
        what: `the job to complete (worker output: ${first.output})`,
      });
      first.process.kill("SIGKILL");
      await first.process.exited;
      const [written] = await store.webhookDeliveryList({ jobId: "report" });
      expect(written).toMatchObject({ event: "completed", status: "pending", url: receiver.url() });

      receiver.start();
      const second = context.foreground([], env);
      await waitFor(
        async () => (await store.webhookDeliveryList({ jobId: "report" }))[0]?.status === "delivered",
        {
          timeoutMs: 60_000,
          what: `the delivery (worker output: ${second.output})`,
        },
      );
      expect(receiver.accepted()).toHaveLength(1);
      expect(receiver.accepted()[0]).toMatchObject({ event: "completed", signatureValid: true });
      expect(receiver.accepted()[0]?.body).toMatchObject({
        job_id: "report",
        state: "completed",
        exit_code: 0,
      });

      const shown = await cli("show", "report");
      expect(shown).toContain("Webhooks:");
      expect(shown).toMatch(new RegExp(`completed\\s+${receiver.url().replaceAll(".", "\\.")}\\s+delivered`));
      const json = JSON.parse(await cli("show", "report", "--json")) as {
        webhooks: Record<string, unknown>[];
      };
      expect(json.webhooks).toHaveLength(1);
      expect(json.webhooks[0]).toMatchObject({
        event: "completed",
        status: "delivered",
        url: receiver.url(),
        // Times as every time in JSON output: ISO-8601 UTC.
        created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
        delivered_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
      });
    });
  });
}
