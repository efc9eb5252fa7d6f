/**
 * Archival on every backend: `purge --archive` and the `retention-archive` setting append
 * each purged job, with its attempts, progress and result, to an NDJSON file before the
 * delete commits; `import` reads the archive back; a failed append deletes nothing.
 */

import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { resolveConfig } from "../../src/core/config.ts";
import { parseExport } from "../../src/flow/export-format.ts";
import type { Store } from "../../src/store/store.ts";
import { purgeFinishedJobs, retentionService } from "../../src/worker/retention.ts";
import { waitFor } from "../helpers/cli.ts";
import { backends, Harness } from "./in-process.ts";

setDefaultTimeout(60_000);

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.cleanup();
  harness = undefined;
});

/** Two finished jobs, one with progress and a result, run by a real worker. */
async function finishedJobs(backend: (typeof backends)[number]): Promise<{ h: Harness; store: Store }> {
  harness = new Harness(await backend.create());
  const h = harness;
  const store = await h.open();
  await store.configSet({ key: "poll-interval", value: "0.1" });
  await h.enqueue(store, [
    {
      id: "kept",
      command: `echo "75 nearly" > "$QUEUECTL_PROGRESS"; echo '{"rows": 3}' > "$QUEUECTL_RESULT"`,
    },
    { id: "plain", command: "true", max_retries: 0 },
  ]);
  h.start(await h.open());
  expect(await h.settled(store, "kept")).toBe("completed");
  expect(await h.settled(store, "plain")).toBe("completed");
  return { h, store };
}

/**
 * Runs the workers' retention service with `retention-archive` set to `archive`, two minutes
 * on (both jobs are then past a 60 s retention), until `until` holds; returns its errors.
 */
async function retainInto(
  h: Harness,
  store: Store,
  archive: string,
  until: (errors: unknown[]) => Promise<boolean>,
  what: string,
): Promise<unknown[]> {
  const config = resolveConfig({ retention: "60", "retention-archive": archive });
  const errors: unknown[] = [];
  const service = retentionService({
    store,
    home: h.queue.home.home,
    now: () => Date.now() + 120_000,
    config: () => config,
    onError: (error) => errors.push(error),
  });
  service.start();
  try {
    await waitFor(() => until(errors), { timeoutMs: 10_000, what });
  } finally {
    await service.stop();
  }
  return errors;
}

for (const backend of backends) {
  describe(`archival (${backend.name})`, () => {
    test("purge --archive writes export's lines first, and import reads them back", async () => {
      const { h, store } = await finishedJobs(backend);
      const archive = join(h.queue.home.home, "archive.ndjson");
      const purge = {
        states: ["completed" as const],
        finishedBefore: Date.now() + 1000,
        home: h.queue.home.home,
      };
      expect(await purgeFinishedJobs(store, { ...purge, dryRun: true, archive })).toHaveLength(2);
      expect(() => readFileSync(archive)).toThrow();
      expect((await purgeFinishedJobs(store, { ...purge, dryRun: false, archive })).sort()).toEqual([
        "kept",
        "plain",
      ]);
      expect(await store.jobGet({ id: "kept" })).toBeNull();

      const { jobs } = parseExport(readFileSync(archive, "utf8"), archive);
      const kept = jobs.find((job) => job.id === "kept");
      expect(kept?.attempt_history).toHaveLength(1);
      expect([kept?.progress_pct, kept?.progress_message, kept?.result]).toEqual([
        75,
        "nearly",
        '{"rows": 3}',
      ]);

      await store.jobImportMany({ jobs });
      const back = await store.jobGet({ id: "kept" });
      expect([back?.state, back?.progress_pct, back?.result]).toEqual(["completed", 75, '{"rows": 3}']);
      expect(await store.attemptList({ jobId: "kept" })).toHaveLength(1);
    });

    test("an archive that cannot be written deletes nothing", async () => {
      const { h, store } = await finishedJobs(backend);
      const archive = join(h.queue.home.home, "no-such-folder", "archive.ndjson");
      const purge = {
        states: ["completed" as const],
        finishedBefore: Date.now() + 1000,
        home: h.queue.home.home,
      };
      await expect(purgeFinishedJobs(store, { ...purge, dryRun: false, archive })).rejects.toThrow(
        `archive ${archive}: cannot write it (ENOENT)`,
      );
      expect((await store.jobGet({ id: "kept" }))?.state).toBe("completed");
      expect(await store.attemptList({ jobId: "kept" })).toHaveLength(1);
    });

    test.skipIf(!existsSync("/dev/full"))(
      "a retention-archive that cannot be written is reported by name, and nothing is purged",
      async () => {
        const { h, store } = await finishedJobs(backend);
        const errors = await retainInto(h, store, "/dev/full", async (seen) => seen.length > 0, "the error");
        // A device is refused before anything is written to it.
        expect((errors[0] as Error).message).toBe("archive /dev/full: cannot write it (not a regular file)");
        expect((await store.jobGet({ id: "kept" }))?.state).toBe("completed");
      },
    );

    test("an archive that is a FIFO fails at once instead of holding the purge's transaction open", async () => {
      const { h, store } = await finishedJobs(backend);
      const fifo = join(h.queue.home.home, "archive.fifo");
      expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
      const purge = {
        states: ["completed" as const],
        finishedBefore: Date.now() + 1000,
        home: h.queue.home.home,
      };
      // Without O_NONBLOCK the open waits for a reader forever, and this never settles.
      await expect(purgeFinishedJobs(store, { ...purge, dryRun: false, archive: fifo })).rejects.toThrow(
        `archive ${fifo}: cannot write it (ENXIO)`,
      );
      expect((await store.jobGet({ id: "kept" }))?.state).toBe("completed");
      // The store is not left locked: the next write goes through.
      await store.configSet({ key: "retention", value: "off" });
    });

    test("the retention purge appends to retention-archive", async () => {
      const { h, store } = await finishedJobs(backend);
      const archive = join(h.queue.home.home, "retained.ndjson");
      const errors = await retainInto(
        h,
        store,
        archive,
        async () => (await store.jobGet({ id: "kept" })) === null,
        "purge",
      );
      expect(errors).toEqual([]);
      expect(
        parseExport(readFileSync(archive, "utf8"), archive)
          .jobs.map((job) => job.id)
          .sort(),
      ).toEqual(["kept", "plain"]);
    });
  });
}
