/**
 * A declared job's jobfile removed or changed while a worker runs it: the store then ends
 * the attempt otherwise than the worker decided (canceled instead of retried, or replaced
 * by the new revision), and the worker's event and printed line must say what the store
 * wrote. The run waits for a file the test creates, so the jobfile changes mid-run.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { normalizeSpec, specRevision } from "../../src/core/spec.ts";
import { printWorkerEvent } from "../../src/render/worker-events.ts";
import type { Store } from "../../src/store/store.ts";
import type { WorkerEvent } from "../../src/worker/events.ts";
import { waitFor } from "../helpers/cli.ts";
import { backends, type Harness, withQueue } from "./in-process.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(120_000);

const SETTINGS = { "poll-interval": "0.1", "backoff-base": "2" };
const OWNER = "/jobs";

function declaration(command: string) {
  const spec = normalizeSpec({ id: "f", command, max_retries: 3 });
  const revision = specRevision(spec);
  return {
    spec,
    revision,
    maxRetries: 3,
    nextRunAt: 0,
    source: "/jobs/f.yaml",
    owner: OWNER,
    adoptFrom: null,
  };
}

/** Declares `f`, whose run fails once `go` exists, and waits until a worker runs it. */
async function startBlockedRun(h: Harness, store: Store) {
  const go = join(h.queue.home.home, "go");
  const command = `while [ ! -f ${go} ]; do sleep 0.02; done; exit 1`;
  await store.jobfileApply({
    changes: { declarations: [declaration(command)], removals: [] },
    now: Date.now(),
  });
  const { worker, events } = h.start(store);
  await waitFor(() => events.some((event) => event.type === "job-started" && event.jobId === "f"), {
    what: "f to start",
  });
  return { worker, events, release: () => writeFileSync(go, "") };
}

function finished(events: WorkerEvent[]) {
  return waitFor(() => events.find((event) => event.type === "job-finished" && event.jobId === "f"), {
    timeoutMs: 60_000,
    what: "f's first attempt to finish",
  });
}

/** The line `worker run` prints for `event` (uncoloured: stdout is not a terminal here). */
function printed(event: WorkerEvent): string {
  const lines: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string) => {
    lines.push(chunk);
    return true;
  }) as typeof process.stdout.write;
  try {
    printWorkerEvent(event);
  } finally {
    process.stdout.write = write;
  }
  return lines.join("");
}

for (const backend of backends) {
  describe.concurrent(`a jobfile changed under a running attempt (${backend.name})`, () => {
    test(
      "removed: the failed run is reported canceled, as the store ends it, not as a retry",
      withQueue(backend, SETTINGS, async (h, store) => {
        const { events, release } = await startBlockedRun(h, store);
        await store.jobfileApply({
          changes: { declarations: [], removals: [{ id: "f", owner: OWNER }] },
          now: Date.now(),
        });
        release();
        const event = await finished(events);
        expect(await h.settled(store, "f")).toBe("canceled");
        expect(event).toMatchObject({ outcome: "canceled", because: "jobfile-removed", nextRunAt: null });
        const line = printed(event);
        expect(line).toContain("f: attempt 1 failed");
        expect(line).toContain("not retried: its jobfile was removed, so the job is canceled");
        expect(line).not.toContain("retry at");
        expect(line).not.toContain("killed");
      }),
    );

    test(
      "removed, then the run stopped and handed back: reported canceled, not back to pending",
      withQueue(backend, SETTINGS, async (h, store) => {
        const { worker, events } = await startBlockedRun(h, store);
        await store.jobfileApply({
          changes: { declarations: [], removals: [{ id: "f", owner: OWNER }] },
          now: Date.now(),
        });
        worker.requestStop();
        worker.escalate();
        const event = await finished(events);
        expect(event).toMatchObject({ outcome: "released", because: "jobfile-removed" });
        expect(printed(event)).toContain("not run again: its jobfile was removed, so the job is canceled");
        expect((await store.jobGet({ id: "f" }))?.state).toBe("canceled");
      }),
    );

    test(
      "changed: the failed run is reported replaced by the new revision, not as a retry",
      withQueue(backend, SETTINGS, async (h, store) => {
        const { events, release } = await startBlockedRun(h, store);
        const next = declaration("true");
        await store.jobfileApply({ changes: { declarations: [next], removals: [] }, now: Date.now() });
        release();
        const event = await finished(events);
        expect(event).toMatchObject({ outcome: "replaced", because: "jobfile-changed" });
        expect(printed(event)).toContain("its jobfile changed while it ran, so the new revision is pending");
        expect(printed(event)).not.toContain("retry at");
        // The new revision then runs at once, from its first attempt.
        expect(await h.settled(store, "f")).toBe("completed");
        expect(await store.jobGet({ id: "f" })).toMatchObject({ revision: next.revision, attempts: 1 });
      }),
    );

    test(
      "changed back to a revision it completed: the failed run is not retried, the job shows that revision",
      withQueue(backend, SETTINGS, async (h, store) => {
        const completed = declaration("true");
        await store.jobfileApply({ changes: { declarations: [completed], removals: [] }, now: Date.now() });
        const first = h.start(store);
        expect(await h.settled(store, "f")).toBe("completed");
        // One worker at a time: the blocked run must be the next one's.
        first.worker.requestStop();
        await first.run;
        const { events, release } = await startBlockedRun(h, store);
        await store.jobfileApply({ changes: { declarations: [completed], removals: [] }, now: Date.now() });
        release();
        const event = await finished(events);
        expect(event).toMatchObject({ outcome: "replaced", because: "jobfile-completed", nextRunAt: null });
        expect(printed(event)).toContain("not retried: its jobfile went back to a revision that completed");
        expect(await store.jobGet({ id: "f" })).toMatchObject({
          state: "completed",
          revision: completed.revision,
          attempts: 1,
        });
      }),
    );
  });
}
