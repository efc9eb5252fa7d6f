/**
 * Row 2's baseline: task-spooler (`tsp`, Debian's `task-spooler`) draining the same `true`
 * jobs with as many slots as queuectl has job slots. Each queued tsp job is a waiting client
 * process, so jobs are queued behind a gate job that holds every slot; the clock starts when
 * the gate opens, which leaves tsp's enqueueing out of the timing, as row 1 does for queuectl.
 */

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pool, until } from "./harness.ts";

/** The task-spooler binary, or null: `ts` may also be moreutils' timestamp filter. */
export function findTaskSpooler(): string | null {
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

/** Wall time in ms for tsp with `slots` slots to run `count` `true` jobs. */
export async function taskSpoolerMs(bin: string, count: number, slots: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "queuectl-bench-tsp-"));
  const gate = join(dir, "gate");
  const env = {
    ...(process.env as Record<string, string>),
    TS_SOCKET: join(dir, "socket"),
    TMPDIR: dir,
    TS_MAXCONN: String(count + 100),
  };
  try {
    await tsp(bin, ["-S", String(slots)], env);
    await tsp(bin, ["-N", String(slots), "sh", "-c", `while [ ! -e '${gate}' ]; do sleep 0.001; done`], env);
    const ids = Array.from({ length: count }, (_, i) => i);
    let last = 0;
    // Queued from a few lanes at once: only the time after the gate opens is measured.
    await pool(ids, 4, async () => {
      last = Math.max(last, Number((await tsp(bin, ["true"], env)).trim()));
    });
    const started = performance.now();
    writeFileSync(gate, "");
    await tsp(bin, ["-w", String(last)], env);
    await until(
      async () => !/\b(running|queued)\b/.test(await tsp(bin, ["-l"], env)),
      60_000,
      "task-spooler to finish",
      2,
    );
    return performance.now() - started;
  } finally {
    // Open the gate even after a failure, or its job would poll forever.
    writeFileSync(gate, "");
    await tsp(bin, ["-K"], env).catch(() => "");
    rmSync(dir, { recursive: true, force: true });
  }
}
