/**
 * Terminal control sequences in ids, commands, host names, jobfile names and contents, and
 * job output never reach a terminal raw. Every command runs on a real pseudo-terminal
 * (util-linux `script`), as a user would see it, so the TTY-only paths (`logs` escaping
 * output for a terminal, progress, worker output) are the ones under test. NO_COLOR keeps
 * queuectl's own colours out: any escape character in what the terminal receives is a leak.
 */

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CLI_PATH, runCli, type TempHome, tempHome } from "../helpers/cli.ts";

setDefaultTimeout(120_000);

const ESC = "\u001b";
/** Clear screen, set the window title, write the clipboard (OSC 52), C1 CSI, a bell, a carriage return. */
const SEQUENCES = `${ESC}[2J${ESC}]0;pwned\u0007${ESC}]52;c;cHduZWQ=\u0007\u009b31m\rX`;
/** Bidi controls that reorder what is displayed ("Trojan Source"). */
const BIDI = "\u202e\u2066";
/** Ids refuse bidi controls outright (core/spec.ts); a tag still carries them to every screen. */
const EVIL_ID = "evil-job";

// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

let home: TempHome;
beforeAll(() => {
  home = tempHome({ NO_COLOR: "1" });
});
afterAll(() => home.cleanup());

const hasScript = Bun.spawnSync(["sh", "-c", "command -v script"]).exitCode === 0;

/** Runs queuectl on a pseudo-terminal; returns what the terminal received, with CRLF as \n. */
async function onTerminal(args: string[], env: Record<string, string> = {}): Promise<string> {
  // The arguments travel in the environment, so no shell ever parses them.
  const argEnv = Object.fromEntries(args.map((arg, i) => [`QARG${i}`, arg]));
  const argList = args.map((_, i) => `"$QARG${i}"`).join(" ");
  const child = Bun.spawn(["script", "-q", "-e", "-c", `bun "$QCLI" ${argList}`, "/dev/null"], {
    env: { ...home.env, ...env, ...argEnv, QCLI: CLI_PATH, TERM: "xterm-256color" },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out] = await Promise.all([new Response(child.stdout).text(), child.exited]);
  return out.replaceAll("\r\n", "\n");
}

function rawControls(text: string): string[] {
  return [...text.matchAll(RAW)].map((match) => `U+${match[0].charCodeAt(0).toString(16).padStart(4, "0")}`);
}

describe.skipIf(!hasScript)("control sequences never reach a terminal raw", () => {
  beforeAll(async () => {
    const jobs = [
      {
        id: EVIL_ID,
        command: `printf '%s\\n' '${SEQUENCES}'; printf 'err${SEQUENCES}\\n' >&2; exit 3`,
        max_retries: 0,
        tags: [`tag${BIDI}`],
      },
      { id: "plain", command: `echo 'plain ${SEQUENCES}'` },
    ];
    const file = join(home.home, "evil.ndjson");
    writeFileSync(file, jobs.map((job) => JSON.stringify(job)).join("\n"));
    const enqueued = await runCli(["enqueue", "-f", file], { env: home.env });
    expect(enqueued.exitCode).toBe(0);
  });

  test("a worker on a terminal, its host name hostile; then list, show, logs, dlq list and status", async () => {
    const hostEnv = { QUEUECTL_HOST: `host${SEQUENCES}` };
    const worker = await onTerminal(["worker", "run", "--drain"], hostEnv);
    expect(worker).toContain("no pending, failed or processing jobs left");
    expect(rawControls(worker)).toEqual([]);
    expect(worker).toContain("\\x1b[2J");

    for (const args of [
      ["list"],
      ["list", "--state", "dead"],
      ["list", "--tag", `tag${BIDI}`],
      ["show", EVIL_ID],
      ["logs", EVIL_ID],
      ["logs", EVIL_ID, "--stderr"],
      ["logs", "plain"],
      ["logs", EVIL_ID, "--json"],
      ["show", EVIL_ID, "--json"],
      ["dlq", "list"],
      ["status"],
      ["status", "--json"],
    ]) {
      const out = await onTerminal(args, hostEnv);
      expect({ args, raw: rawControls(out) }).toEqual({ args, raw: [] });
      expect(out.length).toBeGreaterThan(0);
    }
    // A live worker's host name is shown by status.
    const started = await runCli(["worker", "start"], { env: { ...home.env, ...hostEnv } });
    expect(started.exitCode).toBe(0);
    try {
      const status = await onTerminal(["status"]);
      expect(status).toContain("host\\x1b[2J");
      expect(rawControls(status)).toEqual([]);
    } finally {
      expect((await runCli(["worker", "stop"], { env: { ...home.env, ...hostEnv } })).exitCode).toBe(0);
    }
    // The data is shown, escaped, not dropped: a user can still see what the job printed.
    expect(await onTerminal(["logs", EVIL_ID])).toContain("\\x1b]0;pwned\\x07");
    expect(await onTerminal(["show", EVIL_ID])).toContain("tag\\u202e\\u2066");
  });

  test("errors that echo hostile input: unknown ids, refused ids, unknown commands and options", async () => {
    const badFile = join(home.home, "bad.ndjson");
    writeFileSync(badFile, JSON.stringify({ id: `x${SEQUENCES}`, command: "true" }));
    for (const args of [
      ["show", `missing${SEQUENCES}`],
      ["logs", `missing${SEQUENCES}`],
      ["cancel", `missing${SEQUENCES}`],
      ["dlq", "retry", `missing${SEQUENCES}`],
      ["enqueue", "-f", badFile],
      ["enqueue", JSON.stringify({ id: "y", command: "true", [`max${SEQUENCES}`]: 1 })],
      [`stat${SEQUENCES}`],
      ["list", `--state=${SEQUENCES}`],
      ["config", "set", `lease${SEQUENCES}`, "1"],
    ]) {
      const out = await onTerminal(args);
      expect(out).toStartWith("error: ");
      expect({ args, raw: rawControls(out) }).toEqual({ args, raw: [] });
    }
  });

  test("sync of a folder with hostile file names, field names and YAML errors", async () => {
    const dir = join(home.home, "jobs");
    mkdirSync(dir, { mode: 0o700 });
    const write = (name: string, text: string) => writeFileSync(join(dir, name), text, { mode: 0o600 });
    // A file name is the id when none is given: one with escapes is refused, escaped.
    write(`name${ESC}[2J.yaml`, "command: echo hi\n");
    write("field.yaml", `command: echo hi\nmax${SEQUENCES}: 1\n`);
    write("yaml-error.yaml", `command: "unterminated ${SEQUENCES}\n`);
    write("ok.yaml", `id: fine\ncommand: echo 'fine${BIDI}${SEQUENCES}'\n`);
    // An id with bidi controls would print as another id: refused, without echoing them raw.
    write("bidi-id.yaml", `id: evil${BIDI}\ncommand: echo hi\n`);
    for (const args of [
      ["sync", dir, "--dry-run"],
      ["sync", dir],
      ["sync", dir, "--json"],
    ]) {
      const out = await onTerminal(args);
      expect({ args, raw: rawControls(out) }).toEqual({ args, raw: [] });
      expect(out).toContain("field.yaml");
      if (args[2] !== "--json") expect(out).toContain("invisible formatting characters");
    }
    const listed = await onTerminal(["list"]);
    expect(listed).toContain("fine\\u202e\\u2066");
    expect(rawControls(listed)).toEqual([]);
  });
});
