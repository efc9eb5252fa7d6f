/**
 * The attempt book's answer to a kill whose signal finds nothing to stop: for a run the
 * worker is already stopping (a timeout, a lost lease) the kill decides how the attempt is
 * recorded, whether or not its main process has died of that stop yet; a run whose main
 * process exited by itself, even one the worker has not seen exit, keeps its own outcome.
 */

import { expect, test } from "bun:test";
import { resolveConfig } from "../../src/core/config.ts";
import type { Job } from "../../src/core/job.ts";
import { AttemptBook, claimedSlot } from "../../src/worker/attempts.ts";
import { isProcessAlive } from "../../src/worker/process-info.ts";
import type { QueuedRun } from "../../src/worker/run-gate.ts";

/** A run whose stop finds nothing to do: already being stopped (`stopped`), or exited by itself. */
function unstoppableRun(pid: number, stopped: boolean): QueuedRun {
  return {
    pid,
    started: true,
    exited: false,
    stopped,
    stop: () => false,
    done: new Promise(() => {}),
  } as unknown as QueuedRun;
}

function killReached(pid: number, stopped: boolean): string | null {
  const book = new AttemptBook(
    () => {},
    () => 30_000,
  );
  const job = { id: "k", token: 1, attempts: 1 } as unknown as Job;
  const slot = claimedSlot(job, unstoppableRun(pid, stopped), null, Date.now());
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

test("a kill counts for a run being stopped, living or not, and not for one that exited by itself", async () => {
  const living = Bun.spawn(["sleep", "30"]);
  try {
    expect(killReached(living.pid, true)).toBe("cancel");
  } finally {
    living.kill("SIGKILL");
  }
  const exited = Bun.spawn(["true"]);
  // Blocking this thread keeps the exit unseen: the process stays a zombie until Bun reaps it.
  const deadline = Date.now() + 10_000;
  while (isProcessAlive(exited.pid) && Date.now() < deadline) Bun.sleepSync(1);
  expect(killReached(exited.pid, true)).toBe("cancel");
  expect(killReached(exited.pid, false)).toBeNull();
  await exited.exited;
});
