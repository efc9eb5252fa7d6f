/**
 * What reaches the user's terminal: control characters in commands and errors are escaped,
 * colour appears only on a TTY and never under NO_COLOR, and `--json` stays parseable.
 */

import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { openStore } from "../../src/store/open.ts";
import { CLI_PATH, runCli, runCliJson, type TempHome, tempHome } from "../helpers/cli.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

let home: TempHome;
beforeEach(() => {
  home = tempHome();
});
afterEach(() => home.cleanup());

/** C0 and C1 control characters, DEL, U+2028 and bidi overrides; newline is allowed. */
function rawControls(text: string): string[] {
  return [...text]
    .filter((ch) => {
      const code = ch.charCodeAt(0);
      const bidi = (code >= 0x202a && code <= 0x202e) || (code >= 0x2066 && code <= 0x2069);
      return (code < 0x20 && code !== 0x0a) || (code >= 0x7f && code <= 0x9f) || code === 0x2028 || bidi;
    })
    .map((ch) => `U+${ch.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

const ESCAPES = "\u001b[2J\u001b]0;owned\u0007\r\b\u009b31m\u007f\u2028\u202etxt.exe";

/** A job whose command and recorded errors are full of terminal escapes, left in the DLQ. */
async function hostileJob(): Promise<void> {
  const spec = { id: "evil", command: `printf '${ESCAPES}'\necho two`, max_retries: 0, tags: ["t"] };
  expect((await runCli(["enqueue", JSON.stringify(spec)], { env: home.env })).exitCode).toBe(0);
  const store = await openStore({ url: join(home.home, "jobs.db") });
  try {
    const now = Date.now();
    const job = await store.jobClaim({ workerId: `w${ESCAPES}`, host: `h${ESCAPES}`, now, leaseMs: 60_000 });
    expect(job?.id).toBe("evil");
    await store.jobFail({
      id: "evil",
      token: job?.token ?? 0,
      now,
      state: "dead",
      nextRunAt: now,
      result: {
        exitCode: 1,
        signal: null,
        error: `boom ${ESCAPES}`,
        stdoutBytes: 0,
        stderrBytes: 0,
        logPath: null,
        outputTail: ESCAPES,
      },
    });
  } finally {
    await store.close();
  }
}

describe("control characters", () => {
  test("never reach stdout raw in human output", async () => {
    await hostileJob();
    for (const args of [
      ["list"],
      ["list", "--state", "dead"],
      ["show", "evil"],
      ["dlq", "list"],
      ["status"],
    ]) {
      const result = await runCli(args, { env: home.env });
      expect(result.exitCode).toBe(0);
      expect(rawControls(result.stdout)).toEqual([]);
      expect(rawControls(result.stderr)).toEqual([]);
    }
    const shown = (await runCli(["show", "evil"], { env: home.env })).stdout;
    expect(shown).toContain("\\x1b[2J");
    expect(shown).toContain("\\x9b31m");
    expect(shown).toContain("Last error: boom \\x1b[2J");
  });

  test("--json escapes them and still round-trips", async () => {
    await hostileJob();
    for (const args of [
      ["list", "--json"],
      ["show", "evil", "--json"],
      ["dlq", "list", "--json"],
    ]) {
      const result = await runCli(args, { env: home.env });
      expect(result.exitCode).toBe(0);
      expect(rawControls(result.stdout)).toEqual([]);
    }
    const shown = await runCliJson<{ command: string; last_error: string; attempts: { error: string }[] }>(
      ["show", "evil"],
      { env: home.env },
    );
    expect(shown.command).toBe(`printf '${ESCAPES}'\necho two`);
    expect(shown.last_error).toBe(`boom ${ESCAPES}`);
    expect(shown.attempts[0]?.error).toBe(`boom ${ESCAPES}`);
  });
});

describe("pipes", () => {
  test("a reader that stops early (| head -1) ends the command quietly", async () => {
    const lines = Array.from({ length: 3000 }, (_, i) =>
      JSON.stringify({ id: `job-${i}`, command: `echo ${i}` }),
    );
    const path = join(home.home, "many.ndjson");
    await Bun.write(path, lines.join("\n"));
    expect((await runCli(["enqueue", "-f", path], { env: home.env })).exitCode).toBe(0);
    for (const args of ["list --all", "list --json"]) {
      // The output is far larger than a pipe buffer, so the CLI is still writing when head exits.
      const script = `bun '${CLI_PATH}' ${args} 2>"$ERR" | head -1; echo "exit=\${PIPESTATUS[0]}"`;
      const err = join(home.home, "stderr.txt");
      const child = Bun.spawn(["bash", "-c", script], { env: { ...home.env, ERR: err }, stdout: "pipe" });
      const [out] = await Promise.all([new Response(child.stdout).text(), child.exited]);
      expect(out).toContain("exit=0");
      expect(await Bun.file(err).text()).toBe("");
    }
  });
});

describe("colour", () => {
  /** Human output of every read command on a queue with jobs in several states. */
  async function humanOutputs(env: Record<string, string>): Promise<string> {
    await hostileJob();
    await runCli(["enqueue", '{"id":"p","command":"echo p"}'], { env: home.env });
    let all = "";
    for (const args of [["list"], ["show", "evil"], ["status"], ["dlq", "list"], ["config", "get"]]) {
      const result = await runCli(args, { env });
      expect(result.exitCode).toBe(0);
      all += result.stdout;
    }
    all += (await runCli(["enqueue", '{"id":"q","command":"x"}'], { env })).stdout;
    return all;
  }

  test("a pipe gets no ANSI escapes, even with NO_COLOR unset and CI set", async () => {
    const env: Record<string, string> = { ...home.env, CI: "1", TERM: "xterm-256color" };
    delete env.NO_COLOR;
    const out = await humanOutputs(env);
    expect(out).toContain("\n2 jobs\n");
    expect(out).not.toContain("\u001b");
  });

  /** Runs the CLI on a pseudo-terminal through util-linux `script`. */
  async function onTty(args: string[], env: Record<string, string>): Promise<string> {
    const quoted = ["bun", CLI_PATH, ...args].map((arg) => `'${arg.replaceAll("'", `'\\''`)}'`).join(" ");
    const child = Bun.spawn(["script", "-qec", quoted, "/dev/null"], {
      env: { ...env, TERM: "xterm-256color" },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out] = await Promise.all([new Response(child.stdout).text(), child.exited]);
    return out;
  }

  const hasScript = Bun.which("script") !== null;

  test.skipIf(!hasScript)("bulk enqueue shows progress on a TTY and nowhere else", async () => {
    const lines = Array.from({ length: 10_000 }, (_, i) => JSON.stringify({ id: `b${i}`, command: "x" }));
    const path = join(home.home, "bulk.ndjson");
    await Bun.write(path, lines.join("\n"));
    const out = await onTty(["enqueue", "-f", path], home.env);
    // Streamed input has no total to show, only how many went in.
    expect(out).toContain("enqueued 10000");
    expect(out).toContain("Enqueued 10000 jobs");
    const other = tempHome();
    try {
      const piped = await runCli(["enqueue", "-f", path], { env: other.env });
      expect(piped.exitCode).toBe(0);
      expect(piped.stderr).toBe("");
    } finally {
      other.cleanup();
    }
  });

  test.skipIf(!hasScript)("a TTY gets colour, unless NO_COLOR is set", async () => {
    await runCli(["enqueue", '{"id":"p","command":"echo p"}'], { env: home.env });
    const coloured: Record<string, string> = { ...home.env };
    delete coloured.NO_COLOR;
    const withColour = await onTty(["list"], coloured);
    expect(withColour).toContain("STATE");
    expect(withColour).toContain("\u001b[");
    for (const args of [["list"], ["status"], ["show", "p"], ["config", "get"]]) {
      const plain = await onTty(args, { ...home.env, NO_COLOR: "1" });
      expect(plain.length).toBeGreaterThan(10);
      expect(plain).not.toContain("\u001b");
    }
  });
});
