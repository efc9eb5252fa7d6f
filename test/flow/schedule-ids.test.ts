/**
 * Ids a schedule claims, on every backend: its own id and its occurrence ids
 * (`<schedule id>@<instant>`). `enqueue`, `add` and the REST API all enqueue through
 * enqueuePrepared and the store's insert, which refuse both inside the insert's transaction
 * and leave the queue as it was; the streamed NDJSON path is checked in the same place.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveConfig } from "../../src/core/config.ts";
import { readInput } from "../../src/flow/enqueue-input.ts";
import { enqueueStream } from "../../src/flow/enqueue-stream.ts";
import { tickSchedules } from "../../src/flow/tick.ts";
import type { Store } from "../../src/store/store.ts";
import { enqueue, forEachBackend, refusal } from "./helpers.ts";

setDefaultTimeout(60_000);

const T0 = Date.parse("2026-06-01T12:00:30Z");
const MINUTE = 60_000;
const OCCURRENCE = "tick@2026-06-01T12:05:00.000Z";

async function everything(store: Store) {
  return {
    jobs: (await store.jobList({})).map((job) => job.id),
    schedules: (await store.scheduleList()).map((schedule) => schedule.id),
  };
}

/** `enqueue -f file.ndjson` of these lines, through the streaming path. */
async function enqueueNdjson(store: Store, lines: object[], now: number) {
  const folder = mkdtempSync(join(tmpdir(), "queuectl-ids-"));
  try {
    const path = join(folder, "jobs.ndjson");
    writeFileSync(path, `${lines.map((line) => JSON.stringify(line)).join("\n")}\n`);
    const input = await readInput(path, "ndjson");
    if (input.kind !== "stream") throw new Error("expected a streamed input");
    return await enqueueStream(store, input.input, { config: resolveConfig({}), now });
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

forEachBackend((backend) => {
  describe("a job may not take a schedule's id", () => {
    test("enqueue refuses the id of a schedule made with enqueue, and changes nothing", async () => {
      const store = await backend.store();
      await enqueue(store, [{ id: "s", command: "echo s", schedule: "0 3 * * *" }], T0);
      await enqueue(store, [{ id: "before", command: "true" }], T0);
      const message = await refusal(
        enqueue(
          store,
          [
            { id: "fine", command: "true" },
            { id: "s", command: "echo adhoc" },
          ],
          T0,
        ),
      );
      expect(message).toBe(
        'job id "s" is already used by a schedule — choose another id (see `queuectl schedule list`); nothing was enqueued',
      );
      expect(await everything(store)).toEqual({ jobs: ["before"], schedules: ["s"] });
    });

    test("the store's insert refuses the id of a jobfile's schedule, as it refuses a taken job id", async () => {
      const store = await backend.store();
      await store.scheduleUpsert({
        id: "declared",
        spec: { id: "declared", command: "true", schedule: "0 3 * * *" },
        revision: "r1",
        source: "/jobs/declared.yaml",
        nextAt: T0 + MINUTE,
        now: T0,
      });
      const job = { revision: "r", maxRetries: 0, nextRunAt: T0, source: null };
      expect(
        await refusal(
          store.jobInsertMany({ jobs: [{ ...job, spec: { id: "declared", command: "true" } }], now: T0 }),
        ),
      ).toContain('job id "declared" is already used by a schedule');
      expect((await everything(store)).jobs).toEqual([]);
    });

    test("a streamed NDJSON file is refused whole, naming the id, not as an id used twice", async () => {
      const store = await backend.store();
      await enqueue(store, [{ id: "s", command: "true", schedule: "0 3 * * *" }], T0);
      const message = await refusal(
        enqueueNdjson(
          store,
          [
            { id: "a1", command: "true" },
            { id: "s", command: "true" },
          ],
          T0,
        ),
      );
      expect(message).toStartWith('job id "s" is already used by a schedule');
      expect((await everything(store)).jobs).toEqual([]);
    });
  });

  describe("a job may not take an occurrence id of a schedule", () => {
    test("enqueue refuses it, naming the schedule; the schedule's own occurrence is then enqueued", async () => {
      const store = await backend.store();
      await enqueue(store, [{ id: "tick", command: "echo tick", schedule: "*/5 * * * *" }], T0);
      const message = await refusal(enqueue(store, [{ id: OCCURRENCE, command: "echo HANDMADE" }], T0));
      expect(message).toBe(
        `job id "${OCCURRENCE}" is the id of an occurrence of schedule "tick" — choose another id (ids of the form "tick@<time>" are kept for that schedule's occurrences); nothing was enqueued`,
      );
      const fired = await tickSchedules(store, T0 + 5 * MINUTE);
      expect(fired.enqueued).toEqual([OCCURRENCE]);
      expect((await store.jobGet({ id: OCCURRENCE }))?.spec.command).toBe("echo tick");
    });

    test("the streamed path refuses it too", async () => {
      const store = await backend.store();
      await enqueue(store, [{ id: "tick", command: "true", schedule: "*/5 * * * *" }], T0);
      expect(await refusal(enqueueNdjson(store, [{ id: OCCURRENCE, command: "true" }], T0))).toContain(
        'of an occurrence of schedule "tick"',
      );
      expect((await everything(store)).jobs).toEqual([]);
    });

    test("one input may not hold a schedule and a job with one of its occurrence ids", async () => {
      const store = await backend.store();
      const message = await refusal(
        enqueue(
          store,
          [
            { id: OCCURRENCE, command: "true" },
            { id: "tick", command: "true", schedule: "*/5 * * * *" },
          ],
          T0,
        ),
      );
      expect(message).toContain('of an occurrence of schedule "tick"');
      expect(await everything(store)).toEqual({ jobs: [], schedules: [] });
    });

    test("nor may a streamed input, whichever line comes first, naming both lines", async () => {
      const store = await backend.store();
      const schedule = { id: "tick", command: "true", schedule: "*/5 * * * *" };
      const job = { id: OCCURRENCE, command: "true" };
      const hint = `choose another id (ids of the form "tick@<time>" are kept for that schedule's occurrences); nothing was enqueued`;
      for (const [lines, jobLine, scheduleLine] of [
        [[{ id: "a", command: "true" }, schedule, job], 3, 2],
        [[job, { id: "a", command: "true" }, schedule], 1, 3],
      ] as const) {
        expect(await refusal(enqueueNdjson(store, [...lines], T0))).toEndWith(
          `/jobs.ndjson, line ${jobLine}: job id "${OCCURRENCE}" is the id of an occurrence of schedule "tick" (line ${scheduleLine}) — ${hint}`,
        );
        expect(await everything(store)).toEqual({ jobs: [], schedules: [] });
      }
    });

    test("nor may a schedule take an occurrence id of another schedule", async () => {
      const store = await backend.store();
      await enqueue(store, [{ id: "tick", command: "true", schedule: "*/5 * * * *" }], T0);
      expect(
        await refusal(enqueue(store, [{ id: OCCURRENCE, command: "true", schedule: "0 3 * * *" }], T0)),
      ).toContain('of an occurrence of schedule "tick"');
      expect((await everything(store)).schedules).toEqual(["tick"]);
    });

    test("ids that only look alike stay free: another instant form, an unknown schedule", async () => {
      const store = await backend.store();
      await enqueue(store, [{ id: "tick", command: "true", schedule: "*/5 * * * *" }], T0);
      await enqueue(
        store,
        [
          { id: "tick@2026-06-01T12:05:00Z", command: "true" },
          { id: "other@2026-06-01T12:05:00.000Z", command: "true" },
          { id: "ticks", command: "true" },
        ],
        T0,
      );
      expect((await everything(store)).jobs).toEqual([
        "tick@2026-06-01T12:05:00Z",
        "other@2026-06-01T12:05:00.000Z",
        "ticks",
      ]);
    });

    test("a schedule made after such a job is accepted; its ticker skips that occurrence and keeps the job", async () => {
      const store = await backend.store();
      await enqueue(store, [{ id: OCCURRENCE, command: "echo HANDMADE" }], T0);
      await enqueue(store, [{ id: "tick", command: "echo tick", schedule: "*/5 * * * *" }], T0);
      const fired = await tickSchedules(store, T0 + 5 * MINUTE);
      expect(fired).toEqual({ enqueued: [], skipped: [OCCURRENCE], replaced: [] });
      expect((await store.jobGet({ id: OCCURRENCE }))?.spec.command).toBe("echo HANDMADE");
    });
  });
});
