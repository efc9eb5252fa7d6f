/** The capped log writer and its readers, on real files. */

import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import fc from "fast-check";
import type { Attempt } from "../../src/core/job.ts";
import { attemptFiles, pickAttempt } from "../../src/worker/attempt-logs.ts";
import { CappedLog, TailBuffer } from "../../src/worker/capped-log.ts";
import { attemptLogBase, rotatedPath } from "../../src/worker/log-files.ts";
import { dumpLog, LogFollower } from "../../src/worker/log-reader.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "queuectl-logs-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (chunks: Uint8Array[]) => Buffer.concat(chunks).toString("utf8");

function read(path: string): string {
  const chunks: Uint8Array[] = [];
  dumpLog(path, (chunk) => chunks.push(chunk));
  return text(chunks);
}

describe("CappedLog", () => {
  test("keeps between half the cap and the cap of the newest output, and counts all of it", () => {
    const path = join(dir, "x.out");
    const log = new CappedLog(path, 10);
    for (const piece of ["0123", "4567", "89ab", "cdef", "ghij", "k"]) log.write(bytes(piece));
    log.close();
    expect(log.totalBytes).toBe(21);
    // Segments of 5 bytes: "abcde" rotated, "fghij" rotated over it, "k" current.
    expect(read(path)).toBe("fghijk");
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(rotatedPath(path)).size).toBe(5);
  });

  test("one chunk larger than the cap keeps only its tail", () => {
    const path = join(dir, "big.out");
    const log = new CappedLog(path, 8);
    log.write(bytes("abcdefghijklmnopqrstuvwxyz"));
    log.close();
    expect(read(path)).toBe("uvwxyz");
    expect(log.totalBytes).toBe(26);
  });
});

describe("LogFollower", () => {
  test("hands out appended output in order across rotations, nothing twice", () => {
    const path = join(dir, "f.out");
    const log = new CappedLog(path, 6);
    const follower = new LogFollower(path);
    const seen: Uint8Array[] = [];
    const poll = () => {
      follower.poll((chunk) => seen.push(chunk));
      return text(seen);
    };
    expect(poll()).toBe(""); // before the file exists
    log.write(bytes("ab"));
    expect(poll()).toBe("ab");
    log.write(bytes("cdef")); // "c" completes the first 3-byte segment, which rotates
    expect(poll()).toBe("abcdef");
    log.write(bytes("ghi"));
    log.write(bytes("jkl")); // two rotations between polls: "ghi" is the rotated file now
    expect(poll()).toBe("abcdefghijkl");
    log.write(bytes("mno"));
    log.write(bytes("pqr"));
    log.write(bytes("stu")); // three: "mno" is past the cap, gone from the disk
    expect(poll()).toBe("abcdefghijklpqrstu");
    log.close();
    follower.close();
  });

  test("picks up a file created after it started", () => {
    const path = join(dir, "late.out");
    const follower = new LogFollower(path);
    const seen: Uint8Array[] = [];
    follower.poll((chunk) => seen.push(chunk));
    const log = new CappedLog(path, 1024);
    log.write(bytes("hello"));
    follower.poll((chunk) => seen.push(chunk));
    log.close();
    follower.close();
    expect(text(seen)).toBe("hello");
  });
});

describe("a log file replaced by something else", () => {
  // A FIFO would block a plain open() until a writer came, and the whole process with it: the
  // reads run in a child with a deadline, so a regression fails instead of hanging the suite.
  test("a FIFO or a folder in its place is named, not waited on or read as a crash", () => {
    const fifo = join(dir, "fifo.out");
    expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
    const folder = join(dir, "folder.out");
    mkdirSync(folder);
    const script = `
      const { dumpLog, LogFollower } = await import(${JSON.stringify(resolve(import.meta.dir, "../../src/worker/log-reader.ts"))});
      const outcomes = [];
      for (const path of process.argv.slice(1)) {
        for (const read of [() => dumpLog(path, () => {}), () => new LogFollower(path).poll(() => {})]) {
          try { read(); outcomes.push("read"); } catch (error) { outcomes.push(error.message); }
        }
      }
      console.log(JSON.stringify(outcomes));`;
    const child = Bun.spawnSync(["bun", "-e", script, fifo, folder, join(dir, "missing.out")], {
      timeout: 20_000,
    });
    expect(child.exitCode).toBe(0);
    const notALog = (path: string) => `${path} is not a log file (queuectl writes them as regular files)`;
    expect(JSON.parse(child.stdout.toString())).toEqual([
      notALog(fifo),
      notALog(fifo),
      notALog(folder),
      notALog(folder),
      "read",
      "read",
    ]);
  });
});

describe("TailBuffer", () => {
  test("holds the last cap bytes of everything pushed, however the chunks fall (property)", () => {
    const chunks = fc.array(fc.uint8Array({ maxLength: 120 }), { maxLength: 12 });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }), chunks, (cap, pushed) => {
        const tail = new TailBuffer(cap);
        for (const chunk of pushed) tail.push(chunk);
        const all = Buffer.concat(pushed);
        const expected = new TextDecoder().decode(all.subarray(Math.max(0, all.length - cap)));
        expect(tail.text()).toBe(expected);
      }),
    );
  });

  test("keeps the last bytes across chunks", () => {
    const tail = new TailBuffer(5);
    for (const piece of ["abc", "def", "g"]) tail.push(bytes(piece));
    expect(tail.text()).toBe("cdefg");
    tail.push(bytes("0123456789"));
    expect(tail.text()).toBe("56789");
  });
});

describe("pickAttempt", () => {
  const attempt = (n: number, token: number) => ({ attempt: n, token }) as Attempt;
  test("the latest by default, and the latest run with a number after a dlq retry restarted numbering", () => {
    const attempts = [attempt(1, 1), attempt(2, 2), attempt(1, 3)];
    expect(pickAttempt(attempts, undefined)?.token).toBe(3);
    expect(pickAttempt(attempts, 1)?.token).toBe(3);
    expect(pickAttempt(attempts, 2)?.token).toBe(2);
    expect(pickAttempt(attempts, 5)).toBeUndefined();
  });
});

describe("attemptFiles", () => {
  test("names the files from the id and token, never from the stored log_path", () => {
    const outside = join(dir, "secret");
    const attempt = {
      job_id: "lp",
      token: 2,
      host: "here",
      finished_at: 1,
      stdout_bytes: 5,
      stderr_bytes: 0,
      log_path: `../../../../../../..${outside}`,
    } as Attempt;
    const files = attemptFiles(dir, "here", attempt);
    expect(files.base).toBe(attemptLogBase("lp", 2));
    expect(files.paths.stdout).toBe(join(dir, `${attemptLogBase("lp", 2)}.out`));
    expect(files.paths.stderr.startsWith(join(dir, "logs"))).toBe(true);
  });
});
