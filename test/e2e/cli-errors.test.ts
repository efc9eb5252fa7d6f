/**
 * Every bad input a user can give: exit 2, one `error: …` line on stderr with a hint, no
 * stack trace, and the queue and config exactly as they were before.
 */

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli, runCliProcess, type TempHome, tempHome } from "../helpers/cli.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

let home: TempHome;
let input: string;
let snapshot: { jobs: string; config: string };

async function state(): Promise<{ jobs: string; config: string }> {
  const jobs = await runCli(["list", "--json"], { env: home.env });
  const config = await runCli(["config", "get", "--json"], { env: home.env });
  expect(jobs.exitCode).toBe(0);
  expect(config.exitCode).toBe(0);
  return { jobs: jobs.stdout, config: config.stdout };
}

beforeAll(async () => {
  home = tempHome();
  input = join(home.home, "input");
  mkdirSync(input);
  for (const job of ['{"id":"a","command":"echo a","tags":["t"]}', '{"id":"b","command":["echo","b"]}']) {
    expect((await runCli(["enqueue", job], { env: home.env })).exitCode).toBe(0);
  }
  expect((await runCli(["config", "set", "max-retries", "4"], { env: home.env })).exitCode).toBe(0);
  snapshot = await state();
  expect(JSON.parse(snapshot.jobs)).toHaveLength(2);
});
afterAll(() => home.cleanup());

function file(name: string, text: string | Uint8Array): string {
  const path = join(input, name);
  writeFileSync(path, text);
  return path;
}

/** C0 and C1 control characters other than the final newline. */
function rawControlCharacters(text: string): number[] {
  return [...text]
    .map((ch) => ch.charCodeAt(0))
    .filter((code) => (code < 0x20 && code !== 0x0a) || (code >= 0x7f && code <= 0x9f));
}

const aliasBomb = () => {
  const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let level = 1; level < 10; level++) {
    const [prev, name] = [String.fromCharCode(96 + level), String.fromCharCode(97 + level)];
    levels.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(",")}]`);
  }
  return levels.join("\n");
};

/** [what, argv (or a function building it), a fragment the error must contain, stdin]. */
const cases: [string, () => string[], string, string?][] = [
  ["invalid JSON", () => ["enqueue", '{"id":"x","command":'], "invalid JSON"],
  [
    "unknown field",
    () => ["enqueue", '{"id":"x","command":"e","max_retry":3}'],
    "did you mean `max_retries`?",
  ],
  ["command of the wrong type", () => ["enqueue", '{"id":"x","command":5}'], "`command` must be"],
  ["id of the wrong type", () => ["enqueue", '{"id":{"a":1},"command":"e"}'], "`id` must be a string"],
  [
    "max_retries as a string",
    () => ["enqueue", '{"id":"x","command":"e","max_retries":"3"}'],
    "`max_retries`",
  ],
  ["tags not a list", () => ["enqueue", '{"id":"x","command":"e","tags":"t"}'], "`tags`"],
  ["env not a map", () => ["enqueue", '{"id":"x","command":"e","env":["A=1"]}'], "`env`"],
  ["negative max_retries", () => ["enqueue", '{"id":"x","command":"e","max_retries":-1}'], "`max_retries`"],
  ["1e309 max_retries", () => ["enqueue", '{"id":"x","command":"e","max_retries":1e309}'], "`max_retries`"],
  ["1e309 priority", () => ["enqueue", '{"id":"x","command":"e","priority":1e309}'], "`priority`"],
  ["1e309 timeout", () => ["enqueue", '{"id":"x","command":"e","timeout":1e309}'], "timeout"],
  ["bad duration", () => ["enqueue", '{"id":"x","command":"e","timeout":"5 minutes"}'], "not a duration"],
  ["bad run_at", () => ["enqueue", '{"id":"x","command":"e","run_at":"tomorrow"}'], "`run_at`"],
  ["empty command", () => ["enqueue", '{"id":"x","command":""}'], "`command` must not be empty"],
  ["missing command", () => ["enqueue", '{"id":"x"}'], "`command` is required"],
  ["NUL in the command", () => ["enqueue", '{"id":"x","command":"a\\u0000b"}'], "NUL"],
  ["NUL in the input", () => ["enqueue", "-f", file("nul.json", '{"id":"x","command":"a"}\0')], "NUL"],
  [
    "ESC in the id",
    () => ["enqueue", '{"id":"x\\u001b[31m","command":"e"}'],
    "`id` contains control characters",
  ],
  [
    "newline in the id",
    () => ["enqueue", '{"id":"x\\ny","command":"e"}'],
    "`id` contains control characters",
  ],
  [
    "run_at and delay",
    () => ["enqueue", '{"id":"x","command":"e","run_at":"2030-01-01","delay":"5m"}'],
    "both",
  ],
  ["a 300-character id", () => ["enqueue", JSON.stringify({ id: "x".repeat(300), command: "e" })], "255"],
  [
    "a 1 MB id",
    () => ["enqueue", "-f", file("huge.json", JSON.stringify({ id: "x".repeat(1 << 20), command: "e" }))],
    "255",
  ],
  ["a duplicate id", () => ["enqueue", '{"id":"a","command":"again"}'], 'job id "a" already exists'],
  [
    "a state other than pending",
    () => ["enqueue", '{"id":"x","command":"e","state":"completed"}'],
    "`state`",
  ],
  ["not an object", () => ["enqueue", "[1,2]"], "item 1: a job must be a JSON object"],
  [
    "a JSON argument and a file",
    () => ["enqueue", '{"id":"x","command":"e"}', "-f", file("x.json", "{}")],
    "not both",
  ],
  ["no job at all", () => ["enqueue"], "no job given"],
  ["a missing file", () => ["enqueue", "-f", join(input, "nope.json")], "cannot read"],
  ["a folder as file", () => ["enqueue", "-f", input], "cannot read"],
  ["an empty file", () => ["enqueue", "-f", file("empty.json", "")], "is empty"],
  ["a character device, read as any file", () => ["enqueue", "-f", "/dev/null"], "/dev/null is empty"],
  [
    "an argument that is not UTF-8 (read as U+FFFD)",
    () => ["add", "--id", "a\uFFFDb", "--", "true"],
    "bytes that are not UTF-8",
  ],
  ["an empty list", () => ["enqueue", "-f", file("empty-list.json", "[]")], "holds no jobs"],
  ["empty stdin", () => ["enqueue", "-f", "-"], "stdin is empty", ""],
  [
    "binary garbage",
    () => ["enqueue", "-f", file("garbage.json", new Uint8Array([0xff, 0xfe, 0x01, 0x02]))],
    "error",
  ],
  ["a YAML alias bomb", () => ["enqueue", "-f", file("bomb.yaml", aliasBomb())], "bomb.yaml"],
  ["a YAML syntax error", () => ["enqueue", "-f", file("bad.yaml", "id: x\ncommand: [\n")], "bad.yaml:"],
  [
    "duplicate YAML keys",
    () => ["enqueue", "-f", file("dup.yaml", "id: x\ncommand: e\nid: y\n")],
    "dup.yaml:3:1",
  ],
  ["an unknown state", () => ["list", "--state", "bogus"], 'unknown state "bogus"'],
  ["a near-miss state", () => ["list", "--state", "pendng"], "did you mean `pending`?"],
  ["a state option without value", () => ["list", "--state"], "--state"],
  ["--limit 0", () => ["list", "--limit", "0"], "--limit"],
  ["--limit abc", () => ["list", "--limit", "abc"], "--limit"],
  ["--limit 1e20", () => ["list", "--limit", "1e20"], "--limit"],
  ["show of an unknown id", () => ["show", "nope"], 'no job with id "nope"'],
  ["show without id", () => ["show"], "missing required args"],
  ["cancel of an unknown id", () => ["cancel", "nope"], 'no job with id "nope"'],
  ["rerun of a pending job", () => ["rerun", "a"], 'job "a" is pending, not finished'],
  ["dlq retry of a pending job", () => ["dlq", "retry", "a"], 'job "a" is pending, not dead'],
  ["dlq retry of an unknown id", () => ["dlq", "retry", "nope"], 'no job with id "nope"'],
  ["dlq retry with neither id nor --all", () => ["dlq", "retry"], "give a job id or --all"],
  ["dlq retry with id and --all", () => ["dlq", "retry", "a", "--all"], "give a job id or --all"],
  ["an unknown config key (get)", () => ["config", "get", "colour"], 'unknown config key "colour"'],
  ["an unknown config key (set)", () => ["config", "set", "max-retry", "3"], "did you mean `max-retries`?"],
  [
    "a bad config value",
    () => ["config", "set", "max-retries", "many"],
    "max-retries must be a whole number",
  ],
  ["a too-large config value", () => ["config", "set", "max-retries", "1e309"], "max-retries"],
  ["a bad config duration", () => ["config", "set", "lease", "forever"], "not a duration"],
  ["a too-short lease", () => ["config", "set", "lease", "1s"], "lease must be between"],
  ["a zero poll interval", () => ["config", "set", "poll-interval", "0"], "poll-interval"],
  ["a backoff base below 1", () => ["config", "set", "backoff-base", "0.5"], "backoff-base"],
  [
    "a negative config value",
    () => ["config", "set", "max-retries", "-1"],
    'max-retries must be a whole number from 0 to 1000, got "-1"',
  ],
  [
    "a negative config duration",
    () => ["config", "set", "backoff-max", "-5"],
    'backoff-max must not be negative, got "-5"',
  ],
  [
    "a negative --older-than",
    () => ["purge", "--older-than", "-1d"],
    '--older-than must not be negative, got "-1d"',
  ],
  // Well formed but past 100 years: the key's range, as for one a day too long.
  [
    "a lease of 100 years and a day",
    () => ["config", "set", "lease", "36526d"],
    "lease must be between 2s and 24h",
  ],
  ["a lease in years", () => ["config", "set", "lease", "100y"], "units: ms, s, m, h, d, w"],
  [
    "a negative worker stop --timeout",
    () => ["worker", "stop", "--timeout", "-5s"],
    "--timeout must not be negative",
  ],
  // Read as 0 it would purge every finished job.
  [
    "an empty --older-than",
    () => ["purge", "--older-than", ""],
    "option `--older-than <duration>` is empty — give it a value, or leave it out; see `queuectl purge --help`",
  ],
  ["config set without a value", () => ["config", "set", "max-retries"], "missing required args"],
  ["config without a subcommand", () => ["config"], "`config` needs a subcommand"],
  ["an unknown dlq subcommand", () => ["dlq", "purge"], "unknown command `dlq purge`"],
  ["an unknown command", () => ["enqueu", '{"id":"x","command":"e"}'], "did you mean `enqueue`?"],
  ["an unknown option", () => ["list", "--colour"], "unknown option `--colour`"],
  ["a kebab-case option, as typed", () => ["list", "--max-retries", "3"], "unknown option `--max-retries`"],
  ["a near-miss option", () => ["list", "--stat", "dead"], "did you mean `--state`?"],
  ["swapped letters in a command", () => ["lsit"], "did you mean `list`?"],
  [
    "help for a command that does not exist",
    () => ["lsit", "--help"],
    "unknown command `lsit` — did you mean `list`?",
  ],
  ["help through the help word", () => ["help", "lsit"], "unknown command `lsit`"],
  ["--version with more words", () => ["--version", "extra"], '--version takes no other words, got "extra"'],
  ["an empty jobs folder argument", () => ["sync", ""], "the jobs folder given is empty"],
  ["swapped letters in show", () => ["shwo", "a"], "did you mean `show`?"],
  ["swapped letters in dlq", () => ["dql", "list"], "did you mean `dlq`?"],
  ["swapped letters in a subcommand", () => ["worker", "strat"], "did you mean `worker start`?"],
  ["an unknown global option", () => ["--verbose", "status"], "unknown option `--verbose`"],
  ["extra arguments", () => ["show", "a", "b"], "unused args"],
  [
    "a job the shell split into words",
    () => ["enqueue", '{"id":"split","command":"echo', 'hello"}'],
    "the job is one argument: quote it",
  ],
  ["two ids to a one-id command", () => ["cancel", "a", "b"], "it takes one job id: run it once per id"],
  ["two ids to dlq retry", () => ["dlq", "retry", "a", "b"], "or give --all"],
  ["two keys to config get", () => ["config", "get", "max-retries", "lease"], "it takes one key"],
  ["a folder as the database", () => ["--db", input, "list"], "is a folder, not a file"],
  ["--json with --ids", () => ["list", "--json", "--ids"], "give --json or --ids, not both"],
  ["a queue concurrency in hexadecimal", () => ["queue", "set", "q", "--concurrency", "0x10"], 'got "0x10"'],
  [
    "a huge worker count",
    () => ["worker", "start", "--count", "99999999999999999999"],
    "--count must be at most 64",
  ],
  [
    "a count in exponent form",
    () => ["worker", "start", "--count", "1e1"],
    '--count must be a whole number of at least 1, got "1e1"',
  ],
  [
    "a worker concurrency past any use",
    () => ["worker", "run", "--concurrency", "99999999"],
    '--concurrency must be at most 10,000, got "99999999"',
  ],
  [
    "a limit too large to hold",
    () => ["list", "--limit", "99999999999999999999"],
    "--limit must be at most 9,007,199,254,740,991",
  ],
  [
    "a hexadecimal port",
    () => ["dashboard", "--port", "0x50"],
    '--port must be a whole number of at least 0, got "0x50"',
  ],
  ["an unsupported database URL", () => ["--db", "mysql://localhost/q", "list"], "unsupported database URL"],
  ["a near-miss of --version", () => ["--verison"], "did you mean `--version`?"],
  // Durations are written 90, 90s, 5m: a hex or exponent number is no duration, as typed.
  [
    "a hex --older-than",
    () => ["purge", "--older-than", "0x10", "--dry-run"],
    '--older-than "0x10" is not a duration',
  ],
  [
    "an exponent --timeout of worker stop",
    () => ["worker", "stop", "--timeout", "1e3"],
    '--timeout "1e3" is not a duration',
  ],
  ["a hex --resync", () => ["watch", "--resync", "0x3c", "."], '--resync "0x3c" is not a duration'],
  [
    "dashboard --host that is no address",
    () => ["dashboard", "--host", "999.1.1.1"],
    "--host 999.1.1.1 is not an address or name of this machine",
  ],
  [
    "a retention-archive that is a folder",
    () => ["config", "set", "retention-archive", "/tmp"],
    "retention-archive /tmp is not a regular file",
  ],
  [
    "worker start --watch of a missing folder",
    () => ["worker", "start", "--watch", "/nonexistent/jobs"],
    "the jobs folder /nonexistent/jobs does not exist",
  ],
  [
    "a sqlite:// URL without a path",
    () => ["--db", "sqlite://", "list"],
    'the database URL "sqlite://" names no file',
  ],
  ["an empty --db", () => ["--db", "", "list"], "--db is empty — give a file path"],
  ["an empty --db=", () => ["--db=", "list"], "--db is empty — give a file path"],
  ["a lone --db", () => ["--db"], "option `--db <url>` value is missing"],
  ["an empty --db on status", () => ["--db", "", "status"], "--db is empty"],
  ["an empty --db= on enqueue", () => ["--db=", "enqueue", '{"id":"x","command":"e"}'], "--db is empty"],
  [
    "--db without a value before the command",
    () => ["--db", "--debug", "list"],
    "`--db <url>` value is missing",
  ],
];

describe("bad input: exit 2, one line, nothing changes", () => {
  // A rest parameter: bun reads a fourth declared parameter as a `done` callback.
  test.each(cases)("%s", async (...row) => {
    const [, argv, fragment, stdin] = row;
    const result = await runCli(argv(), { env: home.env, stdin });
    expect(result.exitCode).toBe(2);
    expect(result.stdout).toBe("");
    const lines = result.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toStartWith("error: ");
    expect(lines[0]).toContain(" — ");
    expect(result.stderr).toContain(fragment);
    expect(result.stderr).not.toContain("    at ");
    expect(result.stderr.length).toBeLessThan(1000);
    expect(await state()).toEqual(snapshot);
  });

  test("a YAML alias bomb is refused without expanding it", async () => {
    // Expanding the bomb would take billions of nodes; refusing reads only the first few aliases.
    const result = await runCli(["enqueue", "-f", file("bomb2.yaml", aliasBomb())], { env: home.env });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain("alias");
  });

  test("a mistyped store URL is named with its password masked", async () => {
    for (const url of [
      "postgress://q:S3cretPW@db:5432/queue",
      "postgres:/q:S3cretPW@db:5432/queue",
      // A password may hold an @: a URL parser splits at the last one.
      "postgress://q:S3cretPW@more@db:5432/queue",
    ]) {
      const result = await runCli(["--db", url, "list"], { env: home.env });
      expect(result.exitCode).toBe(2);
      expect(result.stderr).toContain("q:***@db");
      expect(result.stderr).not.toContain("S3cretPW");
      expect(result.stderr).not.toContain("more@");
    }
    expect(await state()).toEqual(snapshot);
  });

  test("control characters in bad input never reach stderr raw", async () => {
    const tricky = [
      ["enqueue", '{"id":"x","command":"e","\\u001b]0;owned\\u0007":1}'],
      ["list", "--state", "\u001b[2Jdead"],
      ["config", "get", "\u001b[31mkey"],
      ["config", "set", "lease", "\u001b[31m5m"],
      ["show", "\u001b[2Jx"],
    ];
    for (const argv of tricky) {
      const result = await runCli(argv, { env: home.env });
      expect(result.exitCode).toBe(2);
      expect(result.stderr).toStartWith("error: ");
      expect(rawControlCharacters(result.stderr)).toEqual([]);
    }
    expect(await state()).toEqual(snapshot);
  });
});

describe("the real process", () => {
  // The cases above run through the CLI's entry inside the test process; a sample of each
  // path (the lean one without cac, cac's, a runtime check) must read the same from a process.
  const sample = ["invalid JSON", "an unknown command", "a bad config value", "a near-miss option"];
  test.each(cases.filter(([what]) => sample.includes(what)))(
    "%s: the same exit code and line",
    async (...row) => {
      const [, argv] = row;
      const inProcess = await runCli(argv(), { env: home.env });
      const child = await runCliProcess(argv(), { env: home.env });
      expect(child).toEqual(inProcess);
      expect(child.exitCode).toBe(2);
    },
  );
});

describe("argument edge cases", () => {
  test("negative numbers reach the flag's own check; an empty value is empty; help is a command", async () => {
    const home = tempHome();
    try {
      const negative = await runCli(["list", "--limit", "-1"], { env: home.env });
      expect(negative.exitCode).toBe(2);
      expect(negative.stderr).toContain('--limit must be a whole number of at least 1, got "-1"');
      const empty = await runCli(["worker", "run", "--queue", "", "--drain"], { env: home.env });
      expect(empty.exitCode).toBe(2);
      expect(empty.stderr).toContain("option `--queue <names>` is empty");
      const help = await runCli(["help", "enqueue"], { env: home.env });
      expect(help.exitCode).toBe(0);
      expect(help.stdout).toContain("queuectl enqueue [json]");
    } finally {
      home.cleanup();
    }
  });
});
