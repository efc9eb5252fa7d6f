/**
 * Webhook notifications end to end, on every backend: real in-process workers run real
 * jobs, and a real HTTP receiver checks what arrives. Every event arrives once, signed,
 * for the URLs the job, its queue and the config name; a receiver that is down for a while
 * still gets every event once it is back; and two claims never hold one delivery at once.
 */

import { Database } from "bun:sqlite";
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { resolveConfig } from "../../src/core/config.ts";
import type { Store } from "../../src/store/store.ts";
import { webhookDeliveryService } from "../../src/worker/webhook-deliveries.ts";
import { waitFor } from "../helpers/cli.ts";
import { runResult } from "../store/contract-helpers.ts";
import { backends, Harness } from "./in-process.ts";
import { Receiver } from "./webhook-receiver.ts";

setDefaultTimeout(120_000);

const SECRET = "test-secret-0123456789abcdef";

let harness: Harness | undefined;
let receiver: Receiver | undefined;
afterEach(async () => {
  await harness?.cleanup();
  await receiver?.stop();
  harness = undefined;
  receiver = undefined;
});

async function setUp(backend: (typeof backends)[number]): Promise<{ h: Harness; store: Store; r: Receiver }> {
  harness = new Harness(await backend.create());
  receiver = new Receiver(SECRET).start();
  const store = await harness.open();
  await store.configSet({ key: "lease", value: "2" });
  await store.configSet({ key: "poll-interval", value: "0.1" });
  await store.configSet({ key: "backoff-base", value: "1" });
  await store.configSet({ key: "webhook-secret", value: SECRET });
  return { h: harness, store, r: receiver };
}

/** Waits until every delivery of `ids` left `pending`, and returns them. */
async function settledDeliveries(store: Store, ids: string[], count: number, timeoutMs = 60_000) {
  return waitFor(
    async () => {
      const all = (await Promise.all(ids.map((jobId) => store.webhookDeliveryList({ jobId })))).flat();
      return all.length === count && all.every((delivery) => delivery.status !== "pending") ? all : null;
    },
    { timeoutMs, what: `${count} deliveries of ${ids.join(", ")} to settle` },
  );
}

for (const backend of backends) {
  describe(`webhooks (${backend.name})`, () => {
    test("a receiver that hangs does not hold back another receiver's deliveries", async () => {
      const { h, store, r } = await setUp(backend);
      await h.enqueue(store, [
        { id: "slow", command: "true", notify: [{ url: r.url("/hang"), events: ["completed"] }] },
      ]);
      h.start(store);
      await waitFor(() => r.received.some((entry) => entry.path === "/hang"), {
        what: "the hanging receiver's call",
      });
      await h.enqueue(store, [
        { id: "quick", command: "true", notify: [{ url: r.url("/quick"), events: ["completed"] }] },
      ]);
      // Well within the hanging call's 10 s timeout, which the other delivery used to wait out.
      await waitFor(() => r.received.some((entry) => entry.path === "/quick"), {
        timeoutMs: 7_000,
        what: "the other receiver's delivery",
      });
      // Closing the hanging call ends its send, so the worker stops without waiting it out.
      await r.stop();
    });

    test("a receiver that hangs with many deliveries due holds only a few sends; the others still go out", async () => {
      const { h, store, r } = await setUp(backend);
      // More than the 20 sends a worker keeps under way, all to the receiver that hangs.
      const slow = Array.from({ length: 30 }, (_, i) => ({
        id: `slow-${i}`,
        command: "true",
        notify: [{ url: r.url("/hang"), events: ["completed" as const] }],
      }));
      await h.enqueue(store, slow);
      h.start(store, { concurrency: 4 });
      for (const job of slow) await h.settled(store, job.id);
      await waitFor(() => r.received.filter((entry) => entry.path === "/hang").length >= 4, {
        what: "the hanging receiver's calls",
      });
      await h.enqueue(store, [
        { id: "quick", command: "true", notify: [{ url: r.url("/quick"), events: ["completed"] }] },
      ]);
      await waitFor(() => r.received.some((entry) => entry.path === "/quick"), {
        timeoutMs: 7_000,
        what: "the other receiver's delivery, well within the hanging calls' 10 s timeout",
      });
      expect(r.received.filter((entry) => entry.path === "/hang").length).toBeLessThanOrEqual(8);
      await r.stop();
    });

    test("completed, failed and dead arrive once per URL, signed, from the job, its queue and the config", async () => {
      const { h, store, r } = await setUp(backend);
      await store.queueNotifySet({
        name: "hooks",
        notify: [{ url: r.url("/queue"), events: ["completed", "failed", "dead"] }],
      });
      await store.configSet({
        key: "notify",
        value: JSON.stringify([{ url: r.url("/config"), events: ["dead"] }]),
      });
      const marker = join(h.queue.home.home, "flaky-ran");
      await h.enqueue(store, [
        { id: "ok", command: "true", queue: "hooks" },
        // Fails its first run, then succeeds: a `failed` event, then a `completed` one.
        { id: "flaky", command: `test -f ${marker} || { touch ${marker}; exit 3; }`, queue: "hooks" },
        // Names the queue's URL again: it still gets the event once.
        { id: "bad", command: "exit 7", max_retries: 0, queue: "hooks", notify: [r.url("/queue")] },
        // No receiver anywhere: no deliveries.
        { id: "quiet", command: "true" },
      ]);
      h.start(store, { concurrency: 2 });
      for (const id of ["ok", "flaky", "bad", "quiet"]) await h.settled(store, id);
      const deliveries = await settledDeliveries(store, ["ok", "flaky", "bad", "quiet"], 5);
      expect(deliveries.every((delivery) => delivery.status === "delivered" && delivery.attempts === 1)).toBe(
        true,
      );

      const arrived = r.accepted().map((entry) => `${entry.body.job_id} ${entry.event} ${entry.path}`);
      expect(arrived.sort()).toEqual([
        "bad dead /config",
        "bad dead /queue",
        "flaky completed /queue",
        "flaky failed /queue",
        "ok completed /queue",
      ]);
      expect(r.received.every((entry) => entry.signatureValid)).toBe(true);
      const failed = r.accepted().find((entry) => entry.event === "failed");
      expect(failed?.body).toMatchObject({ job_id: "flaky", state: "failed", attempt: 1, exit_code: 3 });
      expect(typeof failed?.body.next_run_at).toBe("string");
      const dead = r.accepted().find((entry) => entry.event === "dead");
      expect(dead?.body).toMatchObject({
        job_id: "bad",
        state: "dead",
        attempt: 1,
        max_attempts: 1,
        exit_code: 7,
      });
      const completed = r.accepted().find((entry) => entry.body.job_id === "ok");
      expect(completed?.body).toMatchObject({ event: "completed", state: "completed", exit_code: 0 });
      expect(Date.parse(String(completed?.body.finished_at))).toBeGreaterThan(0);
    });

    test("a receiver that is down, then up again, gets every event exactly once", async () => {
      const { h, store, r } = await setUp(backend);
      await store.configSet({ key: "notify", value: JSON.stringify([r.url("/hook")]) });
      await r.stop();
      await h.enqueue(store, [
        { id: "a", command: "true" },
        { id: "b", command: "true" },
        { id: "c", command: "exit 1", max_retries: 0 },
      ]);
      // Two workers: each delivery is claimed by one of them at a time.
      h.start(store, { concurrency: 2 });
      h.start(await h.open(), { concurrency: 2 });
      const ids = ["a", "b", "c"];
      for (const id of ids) await h.settled(store, id);
      // Every delivery has been tried and failed at least twice while nothing listened.
      await waitFor(
        async () => {
          const all = (await Promise.all(ids.map((jobId) => store.webhookDeliveryList({ jobId })))).flat();
          return (
            all.length === 3 &&
            all.every((delivery) => delivery.attempts >= 2 && delivery.last_error !== null)
          );
        },
        { timeoutMs: 60_000, what: "failed tries while the receiver is down" },
      );
      r.start();
      const deliveries = await settledDeliveries(store, ids, 3);
      expect(deliveries.every((delivery) => delivery.status === "delivered")).toBe(true);
      const byDelivery = new Map<string, number>();
      for (const entry of r.accepted())
        byDelivery.set(entry.deliveryId, (byDelivery.get(entry.deliveryId) ?? 0) + 1);
      expect([...byDelivery.values()]).toEqual([1, 1, 1]);
      expect(
        r
          .accepted()
          .map((entry) => `${entry.body.job_id} ${entry.event}`)
          .sort(),
      ).toEqual(["a completed", "b completed", "c dead"]);
      expect(r.received.every((entry) => entry.signatureValid)).toBe(true);
    });

    test("a claimed delivery is no one else's until its lease ends, and a stale claim cannot record", async () => {
      const { h, store, r } = await setUp(backend);
      await store.configSet({ key: "notify", value: JSON.stringify([r.url("/one"), r.url("/two")]) });
      await h.enqueue(store, [{ id: "job", command: "true" }]);
      const now = Date.now();
      const job = await store.jobClaim({ workerId: "w", host: "h", now, leaseMs: 60_000 });
      const result = runResult(0);
      expect(await store.jobComplete({ id: "job", token: job?.token ?? 0, now, result })).toBe(true);
      // Written with the state change, due at once.
      expect((await store.webhookDeliveryList({ jobId: "job" })).map((d) => d.status)).toEqual([
        "pending",
        "pending",
      ]);

      const other = await h.open();
      const [first, second] = await Promise.all([
        store.webhookDeliveryClaim({ claimId: "first", now, leaseMs: 1000, limit: 1 }),
        other.webhookDeliveryClaim({ claimId: "second", now, leaseMs: 1000, limit: 1 }),
      ]);
      expect([...(first ?? []), ...(second ?? [])].map((d) => d.id).sort()).toHaveLength(2);
      expect(new Set([...(first ?? []), ...(second ?? [])].map((d) => d.id)).size).toBe(2);
      expect(await store.webhookDeliveryClaim({ claimId: "third", now, leaseMs: 1000, limit: 5 })).toEqual(
        [],
      );

      // The lease ends: the row is due again, and the old claim's result is refused.
      const retaken = await store.webhookDeliveryClaim({
        claimId: "fourth",
        now: now + 1001,
        leaseMs: 1000,
        limit: 5,
      });
      expect(retaken).toHaveLength(2);
      const id = retaken[0]?.id ?? 0;
      const delivered = { delivered: true as const, httpStatus: 200 };
      expect(await store.webhookDeliveryRecord({ id, claimId: "first", now, outcome: delivered })).toBe(
        false,
      );
      expect(await store.webhookDeliveryRecord({ id, claimId: "fourth", now, outcome: delivered })).toBe(
        true,
      );
      expect(await store.webhookDeliveryRecord({ id, claimId: "fourth", now, outcome: delivered })).toBe(
        false,
      );
      const rows = await store.webhookDeliveryList({ jobId: "job" });
      expect(rows.find((d) => d.id === id)).toMatchObject({
        status: "delivered",
        attempts: 1,
        last_status: 200,
      });
    });

    test("a purge takes a job's sent deliveries with it, keeps those still owed, and a new job of its id shows none", async () => {
      const { h, store, r } = await setUp(backend);
      await store.configSet({ key: "notify", value: JSON.stringify([r.url("/purged")]) });
      await h.enqueue(store, [
        { id: "sent", command: "true" },
        { id: "owed", command: "true" },
      ]);
      const then = Date.now();
      for (let ended = 0; ended < 2; ended++) {
        const job = await store.jobClaim({ workerId: "w", host: "h", now: then, leaseMs: 60_000 });
        await store.jobComplete({
          id: job?.id ?? "",
          token: job?.token ?? 0,
          now: then,
          result: runResult(0),
        });
      }
      const claimed = await store.webhookDeliveryClaim({ claimId: "c", now: then, leaseMs: 1000, limit: 5 });
      const sent = claimed.find((delivery) => delivery.job_id === "sent");
      const outcome = { delivered: true as const, httpStatus: 200 };
      expect(await store.webhookDeliveryRecord({ id: sent?.id ?? 0, claimId: "c", now: then, outcome })).toBe(
        true,
      );

      const purge = { states: ["completed" as const], finishedBefore: then + 1, dryRun: false };
      expect((await store.jobPurge(purge)).sort()).toEqual(["owed", "sent"]);
      await h.enqueue(store, [
        { id: "sent", command: "true" },
        { id: "owed", command: "true" },
      ]);
      expect(await store.webhookDeliveryList({ jobId: "sent" })).toEqual([]);
      expect(await store.webhookDeliveryList({ jobId: "owed" })).toEqual([]);
      // The one sent is gone from the table; the one still owed is sent all the same.
      const query = "SELECT job_id, status FROM webhook_deliveries";
      const left = h.queue.admin
        ? await h.queue.admin.unsafe(
            query.replace("webhook_deliveries", `${h.queue.schema}.webhook_deliveries`),
          )
        : new Database(h.queue.path ?? "", { readonly: true }).query(query).all();
      // The one owed belongs to no job now (''), so no later job of its id shows it.
      expect([...left]).toEqual([{ job_id: "", status: "pending" }]);
      const due = await store.webhookDeliveryClaim({
        claimId: "d",
        now: then + 1001, // past the first claim's lease
        leaseMs: 1000,
        limit: 5,
      });
      expect(due.map((delivery) => JSON.parse(delivery.body).job_id)).toEqual(["owed"]);
    });

    test("a delivery no worker got to within the hour is given up without a try", async () => {
      const { h, store, r } = await setUp(backend);
      await store.configSet({ key: "notify", value: JSON.stringify([r.url("/late")]) });
      await h.enqueue(store, [{ id: "job", command: "true" }]);
      const now = Date.now();
      const job = await store.jobClaim({ workerId: "w", host: "h", now, leaseMs: 60_000 });
      await store.jobComplete({ id: "job", token: job?.token ?? 0, now, result: runResult(0) });
      // Every worker was down for two hours.
      const service = webhookDeliveryService({
        store,
        workerId: "late-worker",
        now: () => now + 2 * 3_600_000,
        config: () => resolveConfig({}),
        onError: (error) => {
          throw error;
        },
      });
      service.start();
      try {
        const [row] = await waitFor(async () => {
          const rows = await store.webhookDeliveryList({ jobId: "job" });
          return rows[0]?.status === "pending" ? null : rows;
        });
        expect(row).toMatchObject({ status: "gave_up", last_status: null });
        expect(row?.last_error).toContain("within an hour");
        expect(r.received).toEqual([]);
      } finally {
        await service.stop();
      }
    });
  });
}
