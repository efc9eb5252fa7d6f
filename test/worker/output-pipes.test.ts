/**
 * The pipes a job prints into: new descriptors every time, a read end that never blocks the
 * worker, and a drain after exit that tells a closed pipe from one a leftover still holds.
 */

import { describe, expect, test } from "bun:test";
import { readFileSync, writeSync } from "node:fs";
import { OutputPipes } from "../../src/worker/output-pipes.ts";

/** The descriptors OutputPipes keeps to itself: only these tests look inside. */
function endsOf(pipes: OutputPipes): {
  stdout: { read: number; write: number };
  stderr: { read: number; write: number };
} {
  const ends = (pipes as unknown as { ends: ReturnType<typeof endsOf> | null }).ends;
  if (!ends) throw new Error("no pipes: libc could not be loaded");
  return ends;
}

function statusFlags(fd: number): number {
  const line = readFileSync(`/proc/self/fdinfo/${fd}`, "utf8").match(/^flags:\s*(\d+)$/m);
  return Number.parseInt(line?.[1] ?? "", 8);
}

const O_NONBLOCK = 0o4000;

describe.if(process.platform === "linux")("OutputPipes", () => {
  test("every open makes new descriptors, long after the JIT has compiled it", () => {
    // Reading pipe2's result as an array gave the first call's descriptors back once the
    // JIT had compiled the loop (a few hundred calls in): two jobs then shared one pipe.
    for (let i = 0; i < 3_000; i++) {
      const pipes = OutputPipes.open();
      const { stdout, stderr } = endsOf(pipes);
      const fds = new Set([stdout.read, stdout.write, stderr.read, stderr.write]);
      if (fds.size !== 4) throw new Error(`open #${i} repeated a descriptor: ${[...fds]}`);
      const target = (fd: number) =>
        readFileSync(`/proc/self/fdinfo/${fd}`, "utf8").match(/^ino:\s*(\d+)$/m)?.[1];
      if (target(stdout.read) !== target(stdout.write) || target(stderr.read) === target(stdout.read))
        throw new Error(`open #${i}: the ends do not pair up`);
      pipes.closeWriteEnds();
      pipes.closeReadEnds();
    }
  });

  test("the worker's read ends never block; the child's write ends do, so a full pipe makes it wait", () => {
    const pipes = OutputPipes.open();
    const { stdout, stderr } = endsOf(pipes);
    try {
      expect(statusFlags(stdout.read) & O_NONBLOCK).toBe(O_NONBLOCK);
      expect(statusFlags(stderr.read) & O_NONBLOCK).toBe(O_NONBLOCK);
      expect(statusFlags(stdout.write) & O_NONBLOCK).toBe(0);
      expect(statusFlags(stderr.write) & O_NONBLOCK).toBe(0);
    } finally {
      pipes.closeWriteEnds();
      pipes.closeReadEnds();
    }
  });

  test("drainAll passes on what is there, and says done only once every writer is gone", () => {
    const pipes = OutputPipes.open();
    const { stdout, stderr } = endsOf(pipes);
    const seen: string[] = [];
    const sink = (name: string) => (chunk: Uint8Array) =>
      seen.push(`${name}:${Buffer.from(chunk).toString()}`);
    try {
      writeSync(stdout.write, "out-1");
      writeSync(stderr.write, "err-1");
      // The writers are still open: what they wrote so far is passed on, and more may come.
      expect(pipes.drainAll(sink("out"), sink("err"))).toBe(false);
      expect(seen).toEqual(["out:out-1", "err:err-1"]);
      writeSync(stderr.write, "err-2");
      pipes.closeWriteEnds();
      expect(pipes.drainAll(sink("out"), sink("err"))).toBe(true);
      expect(seen).toEqual(["out:out-1", "err:err-1", "err:err-2"]);
    } finally {
      pipes.closeWriteEnds();
      pipes.closeReadEnds();
    }
  });
});
