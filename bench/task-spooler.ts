/**
 * Row 2's baseline: task-spooler (`tsp`, Debian's `task-spooler`) draining the same `true`
 * jobs with as many slots as queuectl has job slots. Each queued tsp job is a waiting client
 * process, so jobs are queued behind a gate job that holds every slot; the clock starts when
 * the gate opens, which leaves tsp's enqueueing out of the timing, as row 1 does for queuectl.
 */

import { closeSync, constants, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pool, until } from "./harness.ts";

/**
 * The task-spooler binary, installed with apt-get when missing and the bench may (root, apt
 * present); null when it cannot be had. `ts` may also be moreutils' timestamp filter.
 */
export function findTaskSpooler(): string | null {
  const found = locateTaskSpooler();
  if (found || !Bun.which("apt-get") || process.getuid?.() !== 0) return found;
  process.stderr.write("task-spooler is missing: apt-get install -y task-spooler …\n");
  Bun.spawnSync(["apt-get", "install", "-y", "task-spooler"], { stdio: ["ignore", "ignore", "ignore"] });
  return locateTaskSpooler();
}

function locateTaskSpooler(): string | null {
  for (const name of ["tsp", "ts"]) {
    const path = Bun.which(name);
    if (!path) continue;
    const probe = Bun.spawnSync([path, "-V"], {
      stdout: "pipe",
      stderr: "pipe",
      env: { TS_SOCKET: "/nonexistent" },
    });
    if (/task.spooler/i.test(`${probe.stdout}${probe.stderr}`)) return path;
  }
  return null;
}

async function tsp(bin: string, args: string[], env: Record<string, string>): Promise<string> {
  const child = Bun.spawn([bin, ...args], { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  if (code !== 0) throw new Error(`tsp ${args.join(" ")} exited ${code}: ${err.trim()}`);
  return out;
}

/**
 * tsp's server keeps a connection per queued job and serves them with select(), so it can
 * hold only about a thousand at once: the jobs are queued and drained in chunks behind a
 * fresh gate each, and only the draining is timed.
 */
const CHUNK = 800;

/** Wall time in ms for tsp with `slots` slots to run `count` `true` jobs. */
export async function taskSpoolerMs(bin: string, count: number, slots: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "queuectl-bench-tsp-"));
  const env = { ...(process.env as Record<string, string>), TS_SOCKET: join(dir, "socket"), TMPDIR: dir };
  let total = 0;
  try {
    await tsp(bin, ["-S", String(slots)], env);
    for (let first = 0; first < count; first += CHUNK) {
      total += await drainChunk(bin, env, join(dir, `gate-${first}`), slots, Math.min(CHUNK, count - first));
      await tsp(bin, ["-C"], env);
    }
    return total;
  } finally {
    await tsp(bin, ["-K"], env).catch(() => "");
    rmSync(dir, { recursive: true, force: true });
  }
}

async function drainChunk(
  bin: string,
  env: Record<string, string>,
  gate: string,
  slots: number,
  count: number,
): Promise<number> {
  // A FIFO: the gate job blocks in `read` without using CPU while the jobs are queued.
  if (Bun.spawnSync(["mkfifo", gate]).exitCode !== 0) throw new Error("mkfifo failed");
  let opened = false;
  try {
    await tsp(bin, ["-N", String(slots), "sh", "-c", `read x < '${gate}'`], env);
    let last = 0;
    // Queued from a few lanes at once; tsp runs them in id order all the same.
    await pool(
      Array.from({ length: count }, (_, i) => i),
      4,
      async () => {
        last = Math.max(last, Number((await tsp(bin, ["true"], env)).trim()));
      },
    );
    const started = performance.now();
    writeFileSync(gate, "go\n");
    opened = true;
    await tsp(bin, ["-w", String(last)], env);
    await until(
      async () => !/\b(running|queued)\b/.test(await tsp(bin, ["-l"], env)),
      60_000,
      "task-spooler to finish",
      2,
    );
    return performance.now() - started;
  } finally {
    // After a failure, open the gate without blocking so that its job ends too.
    if (!opened) {
      try {
        const fd = openSync(gate, constants.O_WRONLY | constants.O_NONBLOCK);
        writeSync(fd, "go\n");
        closeSync(fd);
      } catch {
        // No reader: the gate job never started.
      }
    }
  }
}
