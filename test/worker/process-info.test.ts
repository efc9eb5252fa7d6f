/** Telling our own processes from strangers that reuse their pids, on real processes. */

import { afterEach, expect, setDefaultTimeout, test } from "bun:test";
import { isProcessAlive, isQueuectlProcess, processStartedAt } from "../../src/worker/process-info.ts";
import { waitFor } from "../helpers/cli.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

const children: Bun.Subprocess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
});

function spawn(args: string[]): Bun.Subprocess<"ignore", "pipe", "inherit"> {
  const child = Bun.spawn(args, { stdin: "ignore", stdout: "pipe", stderr: "inherit" });
  children.push(child);
  return child;
}

test("a live process with the role among its arguments, started before it registered, is ours", async () => {
  const child = spawn(["sh", "-c", "sleep 30", "worker"]);
  const registeredAt = Date.now();
  // Bun.spawn returns once the child is forked; until it has exec'd, its arguments are bun's.
  await waitFor(() => isQueuectlProcess(child.pid, "worker", registeredAt), {
    timeoutMs: 10_000,
    what: "the child to show its arguments",
  });
  const startedAt = processStartedAt(child.pid) as number;
  expect(Math.abs(startedAt - registeredAt)).toBeLessThan(5_000);
  // A process started long after the registry row was written holds a reused pid.
  expect(isQueuectlProcess(child.pid, "worker", registeredAt - 3_600_000)).toBe(false);
  // Another program entirely.
  expect(isQueuectlProcess(child.pid, "watch", registeredAt)).toBe(false);
});

test("zombies and missing pids count as gone", async () => {
  // The exec'd sleep never reaps its child, which stays a zombie once it exits.
  const parent = spawn(["sh", "-c", "sleep 0.1 & echo $!; exec sleep 30"]);
  const reader = parent.stdout.getReader();
  const { value } = await reader.read();
  const zombie = Number(new TextDecoder().decode(value).trim());
  expect(isProcessAlive(parent.pid)).toBe(true);
  // kill(pid, 0) still succeeds on a zombie; only its state tells it is gone.
  await waitFor(() => !isProcessAlive(zombie), { timeoutMs: 10_000, what: "the child to exit" });
  expect(() => process.kill(zombie, 0)).not.toThrow();
  expect(isProcessAlive(999_999_999)).toBe(false);
});
