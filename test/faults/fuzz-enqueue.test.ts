/**
 * Fuzzed enqueue input: every input is either a valid job or a one-line UserError with exit
 * code 2. Never a crash, never a stack trace, and a rejected input leaves the queue unchanged.
 */

import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { resolveConfig } from "../../src/core/config.ts";
import { UserError } from "../../src/core/errors.ts";
import { type InputFormat, parseJobInput, prepareJobs } from "../../src/core/job-input.ts";
import { SPEC_FIELDS } from "../../src/core/spec.ts";
import { openStore } from "../../src/store/open.ts";
import { runCli, type TempHome, tempHome } from "../helpers/cli.ts";
import { testSeed } from "../helpers/seed.ts";

setDefaultTimeout(120_000);

const config = resolveConfig({});
/**
 * Run counts are sized to the suite's time; QUEUECTL_TEST_RUNS_SCALE=<factor> multiplies
 * every one of them (e.g. 10 after a change to job input or validation).
 */
const RUNS_SCALE = Number(process.env.QUEUECTL_TEST_RUNS_SCALE ?? "1");
if (!(RUNS_SCALE > 0))
  throw new Error(
    `QUEUECTL_TEST_RUNS_SCALE=${process.env.QUEUECTL_TEST_RUNS_SCALE} is not a positive number`,
  );
const runs = (count: number) => Math.ceil(count * RUNS_SCALE);
const SEED = testSeed("fuzzed enqueue input");
const FIELDS = SPEC_FIELDS;

/** Either jobs come out, or a UserError with exit code 2 and a single-line message. */
function classify(text: string, format?: InputFormat): "valid" | "rejected" {
  try {
    prepareJobs(parseJobInput(text, "input", format), "input", config, 1_700_000_000_000);
    return "valid";
  } catch (error) {
    if (!(error instanceof UserError))
      throw new Error(`non-user error for ${JSON.stringify(text).slice(0, 200)}: ${error}`);
    expect(error.exitCode).toBe(2);
    expect(`${error.message} — ${error.hint}`).not.toContain("\n");
    return "rejected";
  }
}

/** Values shaped like jobs, with the right field names but any values. */
const jobLike = fc.dictionary(
  fc.oneof(fc.constantFrom(...FIELDS), fc.string({ maxLength: 12 }), fc.constant("__proto__")),
  fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.string(), fc.double(), fc.constant(Number.POSITIVE_INFINITY)),
  { maxKeys: 8 },
);

describe("fuzzed enqueue input (in process)", () => {
  test("arbitrary JSON values", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 5 }), (value) => {
        classify(JSON.stringify(value) ?? "null");
      }),
      { numRuns: runs(1000), seed: SEED },
    );
  });

  test("job-shaped objects with wrong values", () => {
    fc.assert(
      fc.property(jobLike, (value) => {
        classify(JSON.stringify(value));
      }),
      { numRuns: runs(1500), seed: SEED },
    );
  });

  test("mutated valid jobs as JSON, YAML and NDJSON text", () => {
    const valid =
      '{"id":"a","command":"echo hi","max_retries":2,"tags":["x"],"env":{"A":"1"},"timeout":"5m"}';
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: valid.length }),
        fc.string({ maxLength: 4 }),
        fc.constantFrom<InputFormat | undefined>("json", "yaml", "ndjson", undefined),
        (at, insert, format) => {
          classify(valid.slice(0, at) + insert + valid.slice(at + 1), format);
        },
      ),
      { numRuns: runs(1500), seed: SEED },
    );
  });

  test("arbitrary text in every format", () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 200 }),
        fc.constantFrom<InputFormat | undefined>("json", "yaml", "ndjson", undefined),
        (text, format) => {
          classify(text, format);
        },
      ),
      { numRuns: runs(1500), seed: SEED },
    );
  });

  test("hostile inputs are rejected, quickly", () => {
    const bomb = [
      "a: &a [x, x, x, x, x, x, x, x, x]",
      "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]",
      "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]",
      "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]",
      "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]",
      "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]",
      "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]",
      "id: x",
      "command: echo",
    ].join("\n");
    const cases: [string, InputFormat | undefined][] = [
      [`${"[".repeat(100_000)}${"]".repeat(100_000)}`, undefined],
      [`${"- ".repeat(5000)}x`, "yaml"],
      [`{"id":"${"x".repeat(1_000_000)}","command":"echo"}`, undefined],
      ['{"id":"a\\u0000b","command":"echo"}', undefined],
      ['{"id":"a","command":"echo\\u0000"}', undefined],
      ['{"id":"a","id":"b","command":"echo"}', undefined],
      ["id: a\nid: b\ncommand: echo", "yaml"],
      ['{"id":"a","command":"echo","max_retries":1e309}', undefined],
      ['{"id":"a","command":"echo","delay":"15000000w"}', undefined],
      ['{"id":"a","command":"echo","delay":1e308}', undefined],
      ['{"id":"a","command":"echo","timeout":1e308}', undefined],
      ['{"id":"a","command":"echo","run_at":"9999-12-31T23:59:59Z"}', undefined],
      ["id: a\ncommand: echo\ndelay: 1e308", "yaml"],
      [
        JSON.stringify({
          id: "a",
          command: ["true", ...Array.from({ length: 90 }, () => "y".repeat(100_000))],
        }),
        undefined,
      ],
      ['{"__proto__":{"command":"echo"},"id":"a"}', undefined],
      ['{"id":"a","command":"echo","constructor":{"prototype":{}}}', undefined],
      [bomb, "yaml"],
      ["\u0000", undefined],
      ["\uFFFD\uFFFD", undefined],
    ];
    for (const [text, format] of cases) {
      const started = performance.now();
      expect(classify(text, format)).toBe("rejected");
      // Not a benchmark: a generous bound that only an alias expansion or a hang would break.
      expect(performance.now() - started).toBeLessThan(5000);
    }
  });
});

/** Inputs sent through the real CLI: each costs a process; the in-process properties above cover the rules. */
const CLI_SAMPLES = runs(30);

/** The queue as stored, read behind the CLI's back: a rejected input must leave it as it was. */
async function storedJobs(home: TempHome): Promise<string> {
  const store = await openStore({ url: join(home.home, "jobs.db") });
  try {
    return JSON.stringify(await store.jobList({}));
  } finally {
    await store.close();
  }
}

describe("fuzzed enqueue input (real CLI)", () => {
  const home = tempHome();
  afterAll(() => home.cleanup());

  test("rejections exit 2 with one line, no stack, and leave the queue unchanged", async () => {
    const seeded = await runCli(["enqueue", '{"id":"keep","command":"echo keep"}'], { env: home.env });
    expect(seeded.exitCode).toBe(0);
    let before = await storedJobs(home);

    const samples = fc.sample(
      fc.oneof(
        jobLike.map((value) => JSON.stringify(value)),
        fc.string({ maxLength: 60 }),
      ),
      {
        numRuns: CLI_SAMPLES,
        seed: 42,
      },
    );
    const file = join(home.home, "input.bin");
    // Invalid UTF-8, NUL bytes and a duplicate of the seeded id go through the file door.
    const extraFiles = [
      Buffer.from([0xff, 0xfe, 0x7b, 0x00]),
      Buffer.from('{"id":"keep","command":"echo again"}'),
    ];
    let rejected = 0;
    for (const input of [...samples, ...extraFiles]) {
      let result: Awaited<ReturnType<typeof runCli>>;
      if (typeof input === "string") {
        result = await runCli(["enqueue", input], { env: home.env });
      } else {
        writeFileSync(file, input);
        result = await runCli(["enqueue", "-f", file], { env: home.env });
      }
      expect([0, 2]).toContain(result.exitCode);
      expect(result.stderr).not.toContain("    at ");
      if (result.exitCode === 2) {
        rejected++;
        expect(result.stderr.trim().split("\n")).toHaveLength(1);
        expect(result.stderr.startsWith("error: ")).toBe(true);
        expect(await storedJobs(home)).toBe(before);
      } else {
        // A valid random job was accepted: the queue grew, and that is the new baseline.
        const after = await storedJobs(home);
        expect(after).not.toBe(before);
        before = after;
      }
    }
    expect(rejected).toBeGreaterThan(samples.length / 2);
  });
});
