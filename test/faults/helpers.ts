/**
 * Fault-injection helpers: reading a SQLite file behind the CLI's back, CPU use of a
 * process from /proc, and small scratch file systems (a loop-mounted ext4 image) that
 * can be filled up or turned read-only under running workers.
 *
 * Mounting needs root and a kernel that allows loop devices; `scratchFsAvailable()`
 * answers once, and the tests that need it are skipped (with their name saying so) when
 * it is false.
 */

import { Database } from "bun:sqlite";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CLI_PATH, type CliResult, waitFor } from "../helpers/cli.ts";

/** Runs `work` on a read-only connection to the file, then closes it. */
export function readDb<T>(path: string, work: (db: Database) => T): T {
  const db = new Database(path, { readonly: true });
  try {
    // A worker opening the file may hold it for WAL recovery a moment; wait, as the CLI does.
    db.run("PRAGMA busy_timeout = 5000");
    return work(db);
  } finally {
    db.close();
  }
}

export function integrityCheck(path: string): string {
  return readDb(path, (db) =>
    String((db.query("PRAGMA integrity_check").get() as Record<string, unknown>).integrity_check),
  );
}

export function countJobs(path: string, where = "1"): number {
  return readDb(path, (db) =>
    Number((db.query(`SELECT COUNT(*) AS n FROM jobs WHERE ${where}`).get() as { n: number }).n),
  );
}

/** The store's journal mode as a fresh connection finds it: `wal` unless a bulk write left it. */
export function journalMode(path: string): string {
  return readDb(
    path,
    (db) => (db.query("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode,
  );
}

export function jobStates(path: string): Record<string, string> {
  return readDb(path, (db) =>
    Object.fromEntries(
      (db.query("SELECT id, state FROM jobs").all() as { id: string; state: string }[]).map((row) => [
        row.id,
        row.state,
      ]),
    ),
  );
}

/** utime + stime of a process, in seconds (clock ticks are 1/100 s on Linux). */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** The share of one core `pid` used over the next `ms` of wall time. */
export async function cpuShare(pid: number, ms = 2000): Promise<number> {
  const before = cpuSeconds(pid);
  const started = Date.now();
  await waitFor(() => Date.now() - started >= ms, { timeoutMs: ms + 5000, intervalMs: 100 });
  return (cpuSeconds(pid) - before) / ((Date.now() - started) / 1000);
}

/** Counts how often each line occurs in a file the jobs append to. */
export function lineCounts(path: string): Map<string, number> {
  const counts = new Map<string, number>();
  let text = "";
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return counts;
  }
  for (const line of text.split("\n").filter(Boolean)) counts.set(line, (counts.get(line) ?? 0) + 1);
  return counts;
}

function sh(args: string[]): { ok: boolean; output: string } {
  const result = Bun.spawnSync(args, { stdout: "pipe", stderr: "pipe" });
  return { ok: result.exitCode === 0, output: `${result.stdout}${result.stderr}`.trim() };
}

/** A loop-mounted ext4 image, mounted with errors=remount-ro so that a file-system error turns it read-only. */
export interface ScratchFs {
  dir: string;
  /** The kernel's name of the loop device, e.g. `loop3`. */
  device: string;
  /** Simulates a disk failing under open files: ext4 records an error and remounts read-only. */
  failReadOnly(): void;
  /** Fills the file system to the last block with a filler file; returns its path. */
  fill(): string;
  /** Unmounts, repairs with e2fsck as after a crash, and mounts again: what survived reached the disk. */
  remountAfterRepair(): void;
  unmount(): void;
}

let available: boolean | undefined;

/** Whether this process may create loop-mounted file systems (root, loop devices, mkfs.ext4). */
export function scratchFsAvailable(): boolean {
  if (available !== undefined) return available;
  available = false;
  if (process.platform !== "linux" || process.getuid?.() !== 0) return false;
  try {
    const probe = mountScratchFs(join(process.env.TMPDIR ?? "/tmp", `queuectl-probe-${process.pid}`), 4);
    probe.unmount();
    available = true;
  } catch {
    available = false;
  }
  return available;
}

/** Mounts a fresh `sizeMb` ext4 image at `${base}/mnt`; the image lives next to it. */
export function mountScratchFs(base: string, sizeMb: number): ScratchFs {
  const dir = join(base, "mnt");
  const image = join(base, "fs.img");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(image, "");
  const steps = [
    ["truncate", "-s", `${sizeMb}M`, image],
    // No reserved blocks and no journal-less surprises: the test decides when it is full.
    ["mkfs.ext4", "-q", "-F", "-m", "0", image],
    ["mount", "-o", "loop,errors=remount-ro", image, dir],
  ];
  for (const step of steps) {
    const result = sh(step);
    if (!result.ok) {
      rmSync(base, { recursive: true, force: true });
      throw new Error(`${step.join(" ")} failed: ${result.output}`);
    }
  }
  const source = sh(["findmnt", "-n", "-o", "SOURCE", dir]).output;
  const device = source.replace(/^\/dev\//, "");
  let mounted = true;
  return {
    dir,
    device,
    failReadOnly() {
      writeFileSync(`/sys/fs/ext4/${device}/trigger_fs_error`, "queuectl fault test");
    },
    fill() {
      const filler = join(dir, "filler");
      // dd stops at ENOSPC; that exit status is the point, not a failure.
      sh(["dd", "if=/dev/zero", `of=${filler}`, "bs=64k"]);
      sh(["sync"]);
      return filler;
    },
    remountAfterRepair() {
      for (const step of [
        ["umount", dir],
        ["e2fsck", "-f", "-y", image],
        ["mount", "-o", "loop", image, dir],
      ]) {
        const result = sh(step);
        // e2fsck exits 1 when it repaired something, which after a simulated failure is expected.
        if (!result.ok && step[0] !== "e2fsck") throw new Error(`${step.join(" ")} failed: ${result.output}`);
      }
    },
    unmount() {
      if (!mounted) return;
      mounted = false;
      // Lazy: a process the test failed to stop must not keep the image (and the loop device) busy.
      if (!sh(["umount", dir]).ok) sh(["umount", "-l", dir]);
      rmSync(base, { recursive: true, force: true });
    },
  };
}

/** A `queuectl worker run` process, optionally started through a prefix such as `setpriv …`. */
export class WorkerProcess {
  readonly process: Bun.Subprocess<"ignore", "pipe", "pipe">;
  stdout = "";
  stderr = "";

  constructor(env: Record<string, string>, options: { prefix?: string[]; args?: string[] } = {}) {
    this.process = Bun.spawn(
      [...(options.prefix ?? []), "bun", CLI_PATH, "worker", "run", ...(options.args ?? [])],
      {
        env,
        stdin: "ignore",
        stdout: "pipe",
        stderr: "pipe",
      },
    );
    void this.collect(this.process.stdout, "stdout");
    void this.collect(this.process.stderr, "stderr");
  }

  get pid(): number {
    return this.process.pid;
  }

  async waitFor(stream: "stdout" | "stderr", fragment: string | RegExp, timeoutMs = 30_000): Promise<void> {
    const matches = () =>
      typeof fragment === "string" ? this[stream].includes(fragment) : fragment.test(this[stream]);
    await waitFor(matches, {
      timeoutMs,
      what: `worker ${stream} to show ${fragment} (stdout: ${this.stdout.slice(-2000)}; stderr: ${this.stderr.slice(-2000)})`,
    });
  }

  /**
   * The share of a core this worker used over the next `ms`. A worker that exited instead
   * of waiting fails with its exit code and the end of its output, not a bare ENOENT.
   */
  async cpuShare(ms = 2000): Promise<number> {
    try {
      return await cpuShare(this.pid, ms);
    } catch (error) {
      throw new Error(
        `worker ${this.pid} is gone (exit code ${this.process.exitCode}; ${(error as Error).message}); stdout: ${this.stdout.slice(-2000)}; stderr: ${this.stderr.slice(-2000)}`,
      );
    }
  }

  async kill(): Promise<void> {
    this.process.kill("SIGKILL");
    await this.process.exited;
  }

  private async collect(stream: ReadableStream<Uint8Array>, into: "stdout" | "stderr"): Promise<void> {
    const decoder = new TextDecoder();
    for await (const chunk of stream) this[into] += decoder.decode(chunk, { stream: true });
  }
}

/** Root can switch to nobody, and nobody can read this checkout (a 0700 temp clone it cannot). */
export function nobodyCanRunTheCli(): boolean {
  if (process.getuid?.() !== 0) return false;
  const probe = Bun.spawnSync([...AS_NOBODY, "bun", CLI_PATH, "--version"], {
    stdout: "ignore",
    stderr: "ignore",
  });
  if (probe.exitCode !== 0)
    console.warn("skipping tests run as nobody: user nobody cannot run this checkout");
  return probe.exitCode === 0;
}

/** Runs a command as user `nobody` (uid and gid 65534, no supplementary groups). */
export const AS_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"];

/** The CLI run as `nobody`, to completion: root would bypass the file permissions under test. */
export function cliAsNobody(env: Record<string, string>): (...args: string[]) => CliResult {
  return (...args) => {
    const child = Bun.spawnSync([...AS_NOBODY, "bun", CLI_PATH, ...args], {
      env,
      stdout: "pipe",
      stderr: "pipe",
    });
    return {
      exitCode: child.exitCode ?? -1,
      stdout: child.stdout.toString(),
      stderr: child.stderr.toString(),
    };
  };
}
