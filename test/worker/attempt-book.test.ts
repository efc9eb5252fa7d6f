/**
 * The attempt book's answer to a kill that reaches a run already being stopped (a timeout, a
 * lost lease): the kill decides how the attempt is recorded while the job's main process
 * lives, and not once it has exited, even before the worker has seen the exit.
 */

import { expect, test } from "bun:test";
import { resolveConfig } from "../../src/core/config.ts";
import type { Job } from "../../src/core/job.ts";
import { AttemptBook, claimedSlot } from "../../src/worker/attempts.ts";
import { isProcessAlive } from "../../src/worker/process-info.ts";
import type { QueuedRun } from "../../src/worker/run-gate.ts";

/** A run whose stop reports it is already being stopped, as one stopped by its timeout does. */
function stoppingRun(pid: number): QueuedRun {
  return {
    pid,
    started: true,
    exited: false,
    stop: () => false,
    done: new Promise(() => {}),
  } as unknown as QueuedRun;
}

function killReachedWhileStopping(pid: number): string | null {
  const book = new AttemptBook(
    () => {},
    () => 30_000,
  );
  const job = { id: "k", token: 1, attempts: 1 } as unknown as Job;
  const slot = claimedSlot(job, stoppingRun(pid), null, Date.now());
  book.add(slot);
  book.applyBeat({
    stopRequested: false,
    config: resolveConfig({}),
    renewed: [{ id: "k", token: 1, killRequested: "cancel" }],
    lost: [],
    renewedAt: performance.now(),
  } as never);
  return slot.kill;
}

test("a kill counts while the main process lives, and not once it has exited unseen", async () => {
  const living = Bun.spawn(["sleep", "30"]);
  try {
    expect(killReachedWhileStopping(living.pid)).toBe("cancel");
  } finally {
    living.kill("SIGKILL");
  }
  const exited = Bun.spawn(["true"]);
  // Blocking this thread keeps the exit unseen: the process stays a zombie until Bun reaps it.
  const deadline = Date.now() + 10_000;
  while (isProcessAlive(exited.pid) && Date.now() < deadline) Bun.sleepSync(1);
  expect(killReachedWhileStopping(exited.pid)).toBeNull();
  await exited.exited;
});
