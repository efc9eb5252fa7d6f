/**
 * The C library calls a worker makes per job (src/worker/libc.ts): kill answers with the
 * errno a failed call left, read right after it, even once the JIT has compiled the caller;
 * close releases the descriptor.
 */

import { describe, expect, test } from "bun:test";
import { existsSync, openSync, readFileSync } from "node:fs";
import { ESRCH, libc } from "../../src/worker/libc.ts";

const EPERM = 1;

/** A process group that cannot exist: past the highest pid the kernel hands out. */
function impossibleGroup(): number {
  return Number(readFileSync("/proc/sys/kernel/pid_max", "utf8").trim()) + 1;
}

describe.if(process.platform === "linux")("libc", () => {
  const c = libc();

  test("loads on Linux", () => {
    expect(c).not.toBeNull();
  });

  test("kill: 0 for a live process, ESRCH for a group that is gone, EPERM for one we may not signal", () => {
    if (!c) throw new Error("no libc");
    const gone = impossibleGroup();
    // Many times, so the answer holds in the JIT-compiled caller too.
    for (let i = 0; i < 5_000; i++) {
      const alive = c.kill(process.pid, 0);
      const missing = c.kill(-gone, 15);
      if (alive !== 0 || missing !== ESRCH) throw new Error(`call #${i}: ${alive}, ${missing}`);
    }
    // Process 1: EPERM unless we are root or own it (a container's first process may be ours).
    expect([0, EPERM]).toContain(c.kill(1, 0));
  });

  test("kill signals a whole process group", async () => {
    if (!c) throw new Error("no libc");
    const child = Bun.spawn(["sleep", "30"], { detached: true, stdio: ["ignore", "ignore", "ignore"] });
    expect(c.kill(-child.pid, 15)).toBe(0);
    expect(await child.exited).not.toBe(0);
    expect(child.signalCode).toBe("SIGTERM");
  });

  test("close releases the descriptor", () => {
    if (!c) throw new Error("no libc");
    const fd = openSync("/dev/null", "r");
    expect(existsSync(`/proc/self/fd/${fd}`)).toBe(true);
    c.close(fd);
    expect(existsSync(`/proc/self/fd/${fd}`)).toBe(false);
  });
});
