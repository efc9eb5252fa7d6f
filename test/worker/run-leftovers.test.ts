/**
 * What a run leaves in its process group, as /proc shows it: a zombie alone (a leftover whose
 * parent died, which the host's init may reap late, or never) does not hold the run for its
 * kill grace; a process whose main thread exited while another runs looks like a zombie, and
 * is still killed. Real processes, one run at a time.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runJob } from "../../src/worker/run.ts";
import { waitFor } from "../helpers/cli.ts";
import { useRunHarness } from "./run-harness.ts";

setDefaultTimeout(60_000);

const harness = useRunHarness();

describe("a run's leftovers", () => {
  test("a stopped run whose group holds only a zombie ends at once, not after the kill grace", async () => {
    const ready = join(harness.home, "ready");
    // A helper forks a child, then leaves the group with setsid, ignoring SIGTERM and never
    // reaping: once the child exits it is a zombie in the job's group, as an orphan is while
    // a container's init has not reaped it. Only kill(-group, 0) sees it.
    const helper = `trap "" TERM; (sleep 0.2; touch ${ready}) & exec setsid sleep 300`;
    const running = runJob({
      jobId: "z",
      spec: {
        id: "z",
        command: `sh -c '${helper}' & while [ ! -e ${ready} ]; do sleep 0.05; done; exec sleep 300`,
      },
      attempt: 1,
      token: 1,
      home: harness.home,
      timeoutMs: 1000,
      baseEnv: process.env,
      reaper: harness.reaper,
      // Far past the test's own timeout: only a run that does not wait it out passes.
      killGraceMs: 600_000,
    });
    const result = await running.done;
    expect(result.error).toBe("timed out after 1s");
  });

  test("a process whose main thread exited while another runs looks like a zombie, and is still killed", async () => {
    const script = join(harness.home, "threads.ts");
    const pidFile = join(harness.home, "threads.pid");
    // Deaf to SIGTERM; its main thread exits and Bun's other threads keep the process alive.
    writeFileSync(
      script,
      `import { dlopen } from "bun:ffi";
      import { writeFileSync } from "node:fs";
      process.on("SIGTERM", () => {});
      const { symbols } = dlopen("libc.so.6", { pthread_exit: { args: ["ptr"], returns: "void" } });
      writeFileSync(${JSON.stringify(pidFile)}, String(process.pid));
      symbols.pthread_exit(null);`,
    );
    const running = runJob({
      jobId: "t",
      // A leftover of a job that ends by itself: only /proc tells it from a zombie.
      spec: {
        id: "t",
        command: `${process.execPath} ${script} & while [ ! -s ${pidFile} ]; do sleep 0.05; done; sleep 0.3`,
      },
      attempt: 1,
      token: 1,
      home: harness.home,
      timeoutMs: 60_000,
      baseEnv: process.env,
      reaper: harness.reaper,
    });
    const pid = await waitFor(() => (existsSync(pidFile) ? Number(readFileSync(pidFile, "utf8")) : 0), {
      what: "the job to write its pid",
    });
    const result = await running.done;
    expect([result.exitCode, result.error]).toEqual([0, null]);
    // Gone, or a zombie of one thread, as any killed process is until its parent reaps it.
    const killed = () => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        return fields[0] === "Z" && Number(fields[17]) <= 1;
      } catch {
        return true;
      }
    };
    await waitFor(killed, { timeoutMs: 15_000, what: "the process to be killed" });
  });
});
