/**
 * Output that cannot be written: every command says so in one line and exits 1, never with a
 * stack trace nor with 0 (a script must not take lost output for success). A reader that
 * closes the pipe early still ends a command quietly, except `export`: a backup cut short
 * must never look like one that worked. Real processes, since exit codes and stdout are
 * the point: /dev/full refuses every write with ENOSPC.
 */

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CLI_PATH, runCli, runCliProcess, succeeded, type TempHome, tempHome } from "../helpers/cli.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

let home: TempHome;
beforeAll(async () => {
  home = tempHome();
  succeeded(await runCli(["enqueue", '{"id":"a","command":"echo hello from a"}'], { env: home.env }));
  succeeded(await runCli(["worker", "run", "--drain"], { env: home.env }));
});
afterAll(() => home.cleanup());

/** `queuectl …args` in a process of its own whose stdout is /dev/full. */
async function intoFullDevice(args: string[]): Promise<{ exitCode: number; stderr: string }> {
  const full = openSync("/dev/full", "w");
  try {
    const child = Bun.spawn(["bun", CLI_PATH, ...args], {
      env: home.env,
      stdin: "ignore",
      stdout: full,
      stderr: "pipe",
    });
    const [stderr, exitCode] = await Promise.all([new Response(child.stderr).text(), child.exited]);
    return { exitCode, stderr };
  } finally {
    closeSync(full);
  }
}

describe.skipIf(!existsSync("/dev/full"))("stdout on a full device", () => {
  for (const args of [
    ["export"],
    ["list", "--json"],
    ["list"],
    ["logs", "a"],
    ["status", "--json"],
    ["show", "a"],
    ["config", "get"],
    ["config", "get", "max_retries"],
    ["schedule", "list"],
    ["queue", "list"],
    ["--help"],
    ["--version"],
  ]) {
    test(`\`${args.join(" ")}\` exits 1 with one line naming the write error`, async () => {
      const result = await intoFullDevice(args);
      expect(result.stderr).toStartWith(
        "error: cannot write the output (ENOSPC: no space left on device) — free some space where it goes",
      );
      expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
      expect(result.exitCode).toBe(1);
    });
  }

  test("`enqueue` and `cancel` finish what they do, then report the output they could not write", async () => {
    const enqueued = await intoFullDevice([
      "enqueue",
      '{"id":"b","command":"true","run_at":"2099-01-01T00:00:00Z"}',
    ]);
    expect(enqueued.stderr).toStartWith(
      "error: cannot write the output (ENOSPC: no space left on device) — ",
    );
    expect(enqueued.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(enqueued.exitCode).toBe(1);
    const canceled = await intoFullDevice(["cancel", "b"]);
    expect(canceled.exitCode).toBe(1);
    const shown = await runCli(["show", "b", "--json"], { env: home.env });
    expect(JSON.parse(shown.stdout).state).toBe("canceled");
  });

  test("`status` writes all of its text to a pipe, and exits 1 when none of it can be written", async () => {
    const piped = await runCliProcess(["status"], { env: home.env });
    expect(piped.exitCode).toBe(0);
    expect(piped.stdout).toStartWith("=== QueueCTL Status ===\n");
    expect(piped.stdout).toEndWith("\n");
    expect(piped.stdout).toContain("\nConfiguration:\n  max-retries: 3\n");
    const full = await intoFullDevice(["status"]);
    expect(full.stderr).toStartWith("error: cannot write the output (ENOSPC: no space left on device) — ");
    expect(full.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(full.exitCode).toBe(1);
  });
});

describe("a reader that closes the pipe early", () => {
  /** Runs `queuectl <args> | head -n 12`; returns the command's exit code, its stderr and what head kept. */
  async function intoHead(args: string): Promise<{ exitCode: number; stderr: string; kept: string }> {
    const err = join(home.home, "stderr.txt");
    const kept = join(home.home, "cut.ndjson");
    const script = `bun '${CLI_PATH}' ${args} 2>"$ERR" | head -n 12 > "$KEPT"; echo "exit=\${PIPESTATUS[0]}"`;
    const child = Bun.spawn(["bash", "-c", script], {
      env: { ...home.env, ERR: err, KEPT: kept },
      stdout: "pipe",
    });
    const [out] = await Promise.all([new Response(child.stdout).text(), child.exited]);
    const exitCode = Number(/exit=(\d+)/.exec(out)?.[1]);
    return { exitCode, stderr: readFileSync(err, "utf8"), kept: readFileSync(kept, "utf8") };
  }

  test("fails `export` with one line, and what it got does not import; `list` stays quiet", async () => {
    // Far more than a pipe holds, so export is still writing when head has read its 12 lines.
    const many = join(home.home, "many.ndjson");
    const lines = Array.from({ length: 3000 }, (_, i) =>
      JSON.stringify({ id: `job-${i}`, command: `echo ${i}` }),
    );
    writeFileSync(many, lines.join("\n"));
    succeeded(await runCli(["enqueue", "-f", many], { env: home.env }));

    const exported = await intoHead("export");
    expect(exported.exitCode).toBe(1);
    expect(exported.stderr).toStartWith(
      "error: the export's reader closed the pipe before the last line (EPIPE)",
    );
    expect(exported.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(exported.kept.split("\n")).toHaveLength(13);

    const target = { ...home.env, QUEUECTL_DB: join(home.home, "restored.db") };
    const restored = await runCli(["import", join(home.home, "cut.ndjson")], { env: target });
    expect(restored.exitCode).toBe(2);
    expect(restored.stderr).toContain("cut.ndjson ends at line 12 without the last line of the export");
    expect((await runCli(["list", "--ids"], { env: target })).stdout).toBe("");

    const listed = await intoHead("list --all");
    expect([listed.exitCode, listed.stderr]).toEqual([0, ""]);
  });
});
