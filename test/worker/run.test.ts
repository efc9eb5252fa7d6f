/**
 * Running one attempt with real processes: shell, plain and exec forms, cwd and env, stdin,
 * timeouts that leave nothing behind, background children, and the capped logs.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { attemptLogBase, LOG_CAP_BYTES, logFilePath, rotatedPath } from "../../src/worker/log-files.ts";
import { dumpLog } from "../../src/worker/log-reader.ts";
import { isProcessAlive } from "../../src/worker/process-info.ts";
import { runJob } from "../../src/worker/run.ts";
import { waitFor } from "../helpers/cli.ts";
import { useRunHarness } from "./run-harness.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

const harness = useRunHarness();
const { run, logText } = harness;

describe("runJob", () => {
  test("a string runs under sh; exit code, stderr line and both logs are recorded", async () => {
    const result = await run({ command: "echo out; echo 'it broke' >&2; exit 3" }).done;
    expect(result).toMatchObject({ exitCode: 3, signal: null, error: "exited with code 3: it broke" });
    expect(result.stdoutBytes).toBe(4);
    expect(logText("job", 1, "stdout")).toBe("out\n");
    expect(logText("job", 1, "stderr")).toBe("it broke\n");
    // Both streams, each line whole; which pipe the worker read first is up to the scheduler.
    expect(result.outputTail?.split("\n").sort()).toEqual(["", "it broke", "out"]);
    expect(statSync(logFilePath(harness.home, attemptLogBase("job", 1), "stdout")).mode & 0o777).toBe(0o600);
  });

  test("an array is exec'd without a shell, in cwd, with the spec's env and the job's id", async () => {
    const result = await run({
      id: "a/../b",
      command: [
        "sh",
        "-c",
        'printf "%s|%s|%s|%s" "$1" "$(pwd)" "$MODE" "$QUEUECTL_JOB_ID"',
        "x",
        "$HOME; rm",
      ],
      cwd: harness.home,
      env: { MODE: "fast" },
    }).done;
    expect(result.error).toBeNull();
    expect(logText("a/../b", 1, "stdout")).toBe(`$HOME; rm|${harness.home}|fast|a/../b`);
    // The log name comes from a hash of the id, never the id itself.
    expect(attemptLogBase("a/../b", 1)).toMatch(/^logs\/[0-9a-f]{32}-1$/);
  });

  test("a missing program or cwd is a failed attempt, not a crash", async () => {
    expect((await run({ command: ["no-such-program-here"] }).done).exitCode).toBe(127);
    expect((await run({ command: "true", cwd: join(harness.home, "missing") }).done).error).toContain(
      "does not exist",
    );
  });

  // A plain string is exec'd without the shell (command-argv.ts); it must not show.
  test("a plain string command gets the shell's argv[0], exit codes and 127 for a missing program", async () => {
    // cat prints its own command line: argv[0] is the word as typed, as dash passes it.
    expect(await run({ command: "cat /proc/self/cmdline" }).done).toMatchObject({ exitCode: 0, error: null });
    expect(readFileSync(logFilePath(harness.home, attemptLogBase("job", 1), "stdout"), "latin1")).toBe(
      "cat\0/proc/self/cmdline\0",
    );
    expect((await run({ command: "false" }).done).exitCode).toBe(1);
    expect((await run({ command: "no-such-program-here" }).done).exitCode).toBe(127);
  });

  test("a plain string naming a script without #!, which the exec refuses, is run by the shell", async () => {
    writeFileSync(join(harness.home, "plain-script"), "echo ran by the shell\n");
    chmodSync(join(harness.home, "plain-script"), 0o755);
    expect(await run({ command: "./plain-script", cwd: harness.home }).done).toMatchObject({
      exitCode: 0,
      error: null,
    });
    expect(logText("job", 1, "stdout")).toBe("ran by the shell\n");
  });

  test("a program looked up a moment ago and gone since is the shell's 127, as an array or a string", async () => {
    const bin = join(harness.home, "bin");
    mkdirSync(bin);
    writeFileSync(join(bin, "qc-probe"), "#!/bin/sh\necho found\n");
    chmodSync(join(bin, "qc-probe"), 0o755);
    const env = { PATH: `${bin}:${process.env.PATH}` };
    expect(await run({ command: "qc-probe", env }).done).toMatchObject({ exitCode: 0, error: null });
    expect(await run({ command: ["qc-probe"], env }, 60_000, 2).done).toMatchObject({
      exitCode: 0,
      error: null,
    });
    rmSync(join(bin, "qc-probe"));
    expect((await run({ command: "qc-probe", env }, 60_000, 3).done).exitCode).toBe(127);
    expect((await run({ command: ["qc-probe"], env }, 60_000, 4).done).exitCode).toBe(127);
  });

  test("an array naming a script without #! is run by the shell, as execvp would", async () => {
    writeFileSync(join(harness.home, "plain-script"), 'echo ran by the shell "$1"\n');
    chmodSync(join(harness.home, "plain-script"), 0o755);
    const result = await run({ command: ["./plain-script", "a b"], cwd: harness.home }).done;
    expect(result).toMatchObject({ exitCode: 0, error: null });
    expect(logText("job", 1, "stdout")).toBe("ran by the shell a b\n");
  });

  test("a plain string command gets the PWD the shell would give it, in its cwd or none", async () => {
    const folder = join(harness.home, "work");
    mkdirSync(folder);
    const expected = realpathSync(folder);
    const inCwd = await run({ command: "printenv PWD", cwd: folder, env: { PWD: "/somewhere/else" } }).done;
    expect(inCwd).toMatchObject({ exitCode: 0, error: null });
    expect(logText("job", 1, "stdout")).toBe(`${expected}\n`);
    // Through the shell, for comparison: the same.
    await run({ command: "printenv PWD;", cwd: folder, env: { PWD: "/somewhere/else" } }, 60_000, 2).done;
    expect(logText("job", 2, "stdout")).toBe(`${expected}\n`);
  });

  test("a string starting with - or + runs as a prompt would run it, with or without limits", async () => {
    const cases: [string, string][] = [
      ["-1", "-1: not found"],
      ["-x echo hi", "-x: not found"],
      ["+x", "+x: not found"],
    ];
    let token = 0;
    for (const [command, message] of cases) {
      for (const limits of [undefined, { cpu_time: 60 }]) {
        token += 1;
        const result = await runJob({
          jobId: "dash",
          spec: { id: "dash", command },
          attempt: 1,
          token,
          home: harness.home,
          timeoutMs: 60_000,
          baseEnv: process.env,
          reaper: harness.reaper,
          limits,
        }).done;
        expect({ command, limits, exitCode: result.exitCode, error: result.error }).toMatchObject({
          command,
          limits,
          exitCode: 127,
          error: expect.stringContaining(message),
        });
      }
    }
  });

  test("stdin is /dev/null: a job reading it sees EOF", async () => {
    const result = await run({ command: "cat; echo eof-seen" }).done;
    expect(result.error).toBeNull();
    expect(logText("job", 1, "stdout")).toBe("eof-seen\n");
  });

  test("a job opens its own stdout and stderr by path, as under a shell: they are pipes, not sockets", async () => {
    const result = await run({
      command:
        "echo to-stderr > /dev/stderr; echo to-stdout > /dev/stdout; echo fd-2 > /proc/self/fd/2; " +
        "readlink /proc/$$/fd/1 | cut -d: -f1",
    }).done;
    expect(result).toMatchObject({ exitCode: 0, error: null });
    expect(logText("job", 1, "stdout")).toBe("to-stdout\npipe\n");
    expect(logText("job", 1, "stderr")).toBe("to-stderr\nfd-2\n");
  });

  test("no descriptor stays open after a run: not when it ends, fails to start, or leaves a writer behind", async () => {
    // Pipes only, by inode, and only new ones: other descriptors of this process (a child's
    // pidfd that Bun closes when it collects it, an earlier test's spawn) come and go.
    // Without OutputPipes.closeReadEnds, each run leaves its two read ends open for good.
    const openPipes = () =>
      new Set(
        readdirSync("/proc/self/fd").flatMap((fd) => {
          try {
            const target = readlinkSync(`/proc/self/fd/${fd}`);
            return target.startsWith("pipe:") ? [target] : [];
          } catch {
            return [];
          }
        }),
      );
    // The first run loads what every later one uses (libc, the log folder).
    await run({ command: "true" }).done;
    const before = openPipes();
    for (let token = 2; token < 12; token++)
      await run({ command: "echo hi; echo err >&2" }, 60_000, token).done;
    await run({ command: ["no-such-program-here"] }, 60_000, 12).done;
    // A writer that left the group keeps its end of the pipe past the attempt.
    const pidFile = join(harness.home, "writer.pid");
    // It writes its pid once in a session of its own; the job ends only then.
    const writer = `setsid sh -c 'echo $$ > ${pidFile}.new; mv ${pidFile}.new ${pidFile}; sleep 30'`;
    const job = `${writer} & while [ ! -s ${pidFile} ]; do sleep 0.01; done; echo main`;
    expect((await run({ command: job }, 60_000, 13).done).exitCode).toBe(0);
    const writerPid = Number(readFileSync(pidFile, "utf8"));
    try {
      expect(isProcessAlive(writerPid)).toBe(true);
      // Bun reads through a copy of each descriptor, which it closes a moment after the read ends.
      await waitFor(() => [...openPipes()].every((pipe) => before.has(pipe)), {
        timeoutMs: 10_000,
        what: "no pipe of a finished run to be left open",
      });
    } finally {
      process.kill(writerPid, "SIGKILL");
    }
  });

  test("a job that runs on has its output logged as it prints, not only once it exits", async () => {
    const running = run({ command: "echo early; echo early-err >&2; exec sleep 300" });
    try {
      await waitFor(
        () => {
          try {
            return logText("job", 1, "stdout") === "early\n" && logText("job", 1, "stderr") === "early-err\n";
          } catch {
            return false;
          }
        },
        { timeoutMs: 15_000, what: "the running job's first lines in its logs" },
      );
      expect(running.exited).toBe(false);
    } finally {
      running.stop("test over");
    }
    expect((await running.done).error).toBe("test over");
  });

  test("a short job that fills its pipe before it exits loses nothing, on either stream", async () => {
    // 1 MiB on each stream is more than a pipe holds: the job must wait until it is read.
    const size = 1024 * 1024;
    const result = await run({
      command: `head -c ${size} /dev/zero | tr '\\0' o; head -c ${size} /dev/zero | tr '\\0' e >&2; echo last`,
    }).done;
    expect(result).toMatchObject({ exitCode: 0, error: null, stdoutBytes: size + 5, stderrBytes: size });
    expect(result.outputTail?.endsWith("last\n")).toBe(true);
  });

  test("output drained at exit and the rest from a process left behind are logged whole, in order", async () => {
    // The main process exits as soon as a process in a session of its own (out of reach of
    // the group's SIGTERM) holds stdout; that one prints once more, within the leftover grace.
    const ready = join(harness.home, "ready");
    const said = join(harness.home, "said");
    // It prints only once the main process has printed its last line: no sleep to outlast.
    const left = `: > ${ready}; while [ ! -e ${said} ]; do sleep 0.01; done; echo b`;
    const result = await run({
      command: `echo a; setsid sh -c '${left}' & while [ ! -e ${ready} ]; do :; done; echo a2; : > ${said}`,
    }).done;
    expect(result).toMatchObject({ exitCode: 0, error: null, stdoutBytes: 7 });
    expect(logText("job", 1, "stdout")).toBe("a\na2\nb\n");
  });

  test("a short job that fills its pipe exactly is drained whole", async () => {
    const result = await run({ command: "head -c 65536 /dev/zero | tr '\\0' z" }).done;
    expect(result).toMatchObject({ exitCode: 0, error: null, stdoutBytes: 65536 });
    expect(logText("job", 1, "stdout")).toBe("z".repeat(65536));
  });

  test("a background child holding stdout does not hang the attempt, and is stopped", async () => {
    const pidFile = join(harness.home, "bg.pid");
    const result = await run({ command: `sleep 300 & echo $! > ${pidFile}; echo main-done` }).done;
    expect(result).toMatchObject({ exitCode: 0, error: null });
    const bgPid = Number(readFileSync(pidFile, "utf8"));
    await waitFor(() => !isProcessAlive(bgPid), {
      timeoutMs: 10_000,
      what: "the background child to be gone",
    });
  });

  test("what a job left behind, holding no output, has the leftover grace to act on its SIGTERM", async () => {
    const [ready, cleaned] = [join(harness.home, "ready"), join(harness.home, "cleaned")];
    // The leftover's trap takes a moment, as a real cleanup does: a SIGKILL right after the
    // SIGTERM would cut it short.
    const leftover = `trap 'sleep 0.2; : > ${cleaned}; exit 0' TERM; : > ${ready}; while :; do sleep 0.05; done`;
    const result = await run({
      command: `sh -c "${leftover}" >/dev/null 2>&1 & while [ ! -e ${ready} ]; do sleep 0.01; done; echo main-done`,
    }).done;
    expect(result).toMatchObject({ exitCode: 0, error: null });
    expect(existsSync(cleaned)).toBe(true);
  });

  test("a timeout stops the whole group: no grandchild survives, and the error says so", async () => {
    const pidFile = join(harness.home, "grandchild.pid");
    // The grandchild ignores SIGTERM, so only the SIGKILL after the grace period can end it.
    // The grandchild writes its own pid before anything else, and the job waits for it, so a
    // busy machine cannot time the job out before the pid is known.
    const running = run(
      {
        command: `sh -c 'echo $$ > ${pidFile}; trap "" TERM; exec sleep 300' & while [ ! -s ${pidFile} ]; do sleep 0.05; done; sleep 300`,
      },
      1000,
    );
    const result = await running.done;
    expect(result.error).toBe("timed out after 1s");
    expect(result.exitCode).toBeNull();
    const grandchild = Number(readFileSync(pidFile, "utf8"));
    await waitFor(() => !isProcessAlive(grandchild), {
      timeoutMs: 15_000,
      what: "the grandchild to be killed",
    });
    expect(isProcessAlive(running.pid as number)).toBe(false);
  });

  test("stop() sends SIGTERM to the group and records the reason", async () => {
    const running = run({ command: "sleep 300" });
    await Bun.sleep(0);
    running.stop("stopped before it finished");
    const result = await running.done;
    expect(result).toMatchObject({ signal: "SIGTERM", error: "stopped before it finished" });
  });

  test("50 MB of output: totals counted, the log capped to its tail", async () => {
    const total = 50 * 1024 * 1024;
    const result = await run({ command: `head -c ${total} /dev/zero | tr '\\0' 'x'; echo; echo the-end` })
      .done;
    expect(result.error).toBeNull();
    expect(result.stdoutBytes).toBe(total + 1 + 8);
    const path = logFilePath(harness.home, attemptLogBase("job", 1), "stdout");
    const kept = statSync(path).size + statSync(rotatedPath(path)).size;
    expect(kept).toBeLessThanOrEqual(LOG_CAP_BYTES);
    expect(kept).toBeGreaterThanOrEqual(LOG_CAP_BYTES / 2);
    const chunks: Uint8Array[] = [];
    expect(dumpLog(path, (chunk) => chunks.push(chunk))).toBe(kept);
    expect(Buffer.concat(chunks).toString("utf8").endsWith("xxx\nthe-end\n")).toBe(true);
    expect(result.outputTail?.endsWith("xxx\nthe-end\n")).toBe(true);
    expect(result.outputTail?.length).toBeLessThanOrEqual(4096);
  });
});
