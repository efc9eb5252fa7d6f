/**
 * One definition of the job spec: the shipped schema is what the field table generates, the
 * jobfile parser accepts exactly the jobs the schema accepts, and an accepted spec comes back
 * unchanged through `export` and `import`. The corpus is drawn from values on both sides of
 * every rule a JSON Schema can state; rules it cannot (a real calendar date, a cron pattern
 * croner reads, a known time zone, a job waiting for itself, exec size limits) are kept to
 * values valid for them, and have their own tests in spec.test.ts.
 *
 * The seed is printed; replay a failure with QUEUECTL_TEST_SEED=<seed>.
 */

import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import Ajv from "ajv";
import fc from "fast-check";
import { jobfileSchema, jobfileSchemaText } from "../../src/core/jobfile-schema.ts";
import { specRevision } from "../../src/core/spec.ts";
import { CATCHUP_POLICIES, OVERLAP_POLICIES } from "../../src/core/spec-fields.ts";
import { emptySettings, exportLine, parseExportLine } from "../../src/flow/export-format.ts";
import { parseJobfile } from "../../src/jobfiles/parse.ts";
import { testSeed } from "../helpers/seed.ts";

const SCHEMA_PATH = join(import.meta.dir, "../../schema/jobfile.schema.json");
const SEED = testSeed("spec schema agreement");
/** The jobfile every generated job is read from; its path gives the id when the job has none. */
const FILE = "fuzz.json";

test("schema/jobfile.schema.json is what `bun run schema` generates", () => {
  const committed = JSON.parse(readFileSync(SCHEMA_PATH, "utf8"));
  // Compared as laid out by JSON.stringify, so key order counts and biome's layout does not.
  expect(`${JSON.stringify(committed, null, 2)}\n`).toBe(jobfileSchemaText());
});

// Characters on both sides of the text rules: blank, control (C0 and C1), NUL, a leading "-".
const character = fc.constantFrom("a", "b", "-", " ", "\t", "\u00a0", "é", "\u0000", "\u001b", "\u0085");
const oddText = fc.string({ unit: character, maxLength: 6 });
const other = fc.constantFrom<unknown>(null, true, 5, 1.5, [], {}, "");
const units = fc.constantFrom("ms", "s", "m", "h", "d", "w");

function field<T>(valid: fc.Arbitrary<T>, invalid: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 5, arbitrary: valid }, { weight: 1, arbitrary: fc.oneof(invalid, other) });
}

const duration = (zeroAllowed: boolean) =>
  field(
    fc.oneof(
      fc.integer({ min: 1, max: 1_000_000 }),
      fc.tuple(fc.integer({ min: 1, max: 5000 }), units).map(([n, unit]) => `${n}${unit}`),
      fc.constantFrom("1h30m", " 90 ", "2.5", "1.5s"),
      zeroAllowed ? fc.constantFrom(0, "0", "0s") : fc.constant(1),
    ),
    fc.constantFrom(-1, "5 minutes", "5x", "-5s", "", "s", ...(zeroAllowed ? [] : [0, "0", "0s", "0ms"])),
  );

const pad = (n: number) => String(n).padStart(2, "0");
const runAt = field(
  fc
    .record({
      year: fc.integer({ min: 2001, max: 2090 }),
      month: fc.integer({ min: 1, max: 12 }),
      day: fc.integer({ min: 1, max: 28 }),
      hour: fc.integer({ min: 0, max: 23 }),
      minute: fc.integer({ min: 0, max: 59 }),
      form: fc.constantFrom("date", "Z", "z", "+05:30", "-0800", " ", "local"),
    })
    .map(({ year, month, day, hour, minute, form }) => {
      const date = `${year}-${pad(month)}-${pad(day)}`;
      if (form === "date") return date;
      const time = `${pad(hour)}:${pad(minute)}`;
      if (form === " ") return `${date} ${time}:00.5`;
      return `${date}T${time}${form === "local" ? "" : form}`;
    }),
  fc.constantFrom(
    "tomorrow",
    "2030-13-01",
    "2030-01-01T25:00Z",
    "2030-01-01T09:60Z",
    "2030-01-01T09:00+05",
    "2030-1-1",
    "1",
  ),
);

const ids = ["build", "nightly/backup", "a.b_c", "007"];
const afterIds = ["deploy", "test", "x"];
const jobArbitrary = fc
  .record(
    {
      id: field(
        fc.oneof(fc.constantFrom(...ids), fc.integer({ min: 0, max: 1e6 })),
        fc.oneof(oddText, fc.constantFrom(-1, "a".repeat(256), 2 ** 60)),
      ),
      command: field(
        fc.oneof(
          fc.constantFrom("echo hi", "  sleep 1"),
          fc
            .array(fc.constantFrom("echo", "hi", ""), { minLength: 1, maxLength: 3 })
            .map((list) => ["sh", ...list]),
        ),
        fc.oneof(oddText, fc.array(oddText, { maxLength: 3 })),
      ),
      max_retries: field(
        fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.constantFrom(0, 1000)),
        fc.constantFrom(-1, 1001, 2.5, "3"),
      ),
      timeout: duration(false),
      priority: field(
        fc.integer({ min: -1_000_000, max: 1_000_000 }),
        fc.constantFrom(1_000_001, -1_000_001, 0.5),
      ),
      run_at: runAt,
      delay: duration(true),
      cwd: field(fc.constantFrom("/srv/app", "relative dir"), fc.constantFrom("a\u0000b")),
      env: field(
        fc.dictionary(
          fc.constantFrom("MODE", "_X", "PATH2"),
          fc.oneof(fc.string({ maxLength: 4 }), fc.integer(), fc.boolean()),
          { maxKeys: 3 },
        ),
        fc.oneof(
          fc.constantFrom("x", ["A"]),
          fc.dictionary(fc.constantFrom("1BAD", "a-b", "MODE"), fc.oneof(other, fc.constant("a\u0000")), {
            minKeys: 1,
            maxKeys: 2,
          }),
        ),
      ),
      tags: field(
        fc.array(fc.constantFrom("nightly", "db", "é"), { maxLength: 3 }),
        fc.oneof(fc.array(oddText, { minLength: 1, maxLength: 2 }), fc.constant("nightly")),
      ),
      queue: field(
        fc.constantFrom("emails", "default", "a.b-c_d"),
        fc.constantFrom("-bad", "a".repeat(65), "é"),
      ),
      after: field(
        fc.oneof(fc.constantFrom(...afterIds), fc.array(fc.constantFrom(...afterIds), { maxLength: 3 })),
        fc.oneof(
          fc.constantFrom(" ", "\t"),
          fc.array(fc.constantFrom("", " ", 5), { minLength: 1, maxLength: 2 }),
        ),
      ),
      schedule: field(fc.constantFrom("*/5 * * * *", "@daily", "0 3 * * 1-5"), fc.constantFrom(" ", "\t")),
      timezone: field(fc.constantFrom("UTC", "Europe/Berlin"), fc.constantFrom(" ")),
      catchup: field(fc.constantFrom(...CATCHUP_POLICIES), fc.constantFrom("sometimes", "LATEST")),
      overlap: field(fc.constantFrom(...OVERLAP_POLICIES), fc.constantFrom("queue", "Skip")),
      state: field(fc.constant("pending"), fc.constantFrom("completed", "dead")),
      max_retry: fc.constant(1),
    },
    { requiredKeys: [] },
  )
  // A handful of fields at a time, so that a useful share of the jobs is valid.
  .chain((job) =>
    fc.subarray(Object.keys(job), { maxLength: 5 }).chain((keys) =>
      fc.boolean().map((withCommand) => {
        const picked: Record<string, unknown> = Object.fromEntries(
          keys.map((key) => [key, job[key as keyof typeof job]]),
        );
        if (withCommand && picked.command === undefined) picked.command = "echo hi";
        return picked;
      }),
    ),
  );

describe("the jobfile parser and the schema", () => {
  const validate = new Ajv({
    allowUnionTypes: true,
    // Style checks for schema authors; the schema is written for editors, which do not mind.
    strictTypes: false,
    strictTuples: false,
  }).compile(jobfileSchema());

  /** The limits themselves, one field at a time next to a valid command: where off-by-ones hide. */
  const EDGES: Record<string, unknown[]> = {
    id: [
      "a".repeat(255),
      "a".repeat(256),
      0,
      -1,
      Number.MAX_SAFE_INTEGER,
      2 ** 53,
      "-a",
      " ",
      null,
      " a",
      "a\t",
      "a b",
      "a\u202eb",
      "a\u200bb",
      "\ufeffa",
    ],
    command: ["", " ", [""], ["", "x"], ["x", ""], [], "a\u0000"],
    max_retries: [0, 1000, 1001, -1],
    timeout: [0, 0.001, "0s", "1ms", 3_155_760_000],
    priority: [-1_000_000, 1_000_000, 1_000_001, -1_000_001],
    delay: [0, "0s", -0.5],
    queue: ["a".repeat(64), "a".repeat(65), "_a"],
    tags: [[], [" "], ["\u0085"]],
    env: [{}, { A: "" }, { A: null }, { _: 1 }],
    after: ["", [], [""], [" "]],
    state: ["pending", "failed"],
  };
  for (const [name, values] of Object.entries(EDGES)) {
    test(`agree at the limits of \`${name}\``, () => {
      for (const value of values) {
        const job = { command: "echo hi", [name]: value };
        const parsed = parseJobfile(JSON.stringify(job), FILE);
        const agree = (parsed.problems.length === 0) === validate(job);
        expect(agree ? "agree" : `disagree on ${JSON.stringify(value)}`).toBe("agree");
      }
    });
  }

  test("accept exactly the same jobs, and export re-reads every accepted spec unchanged", () => {
    let accepted = 0;
    fc.assert(
      fc.property(jobArbitrary, (job) => {
        const text = JSON.stringify(job);
        const parsed = parseJobfile(text, FILE);
        const parserAccepts = parsed.problems.length === 0;
        const schemaAccepts = validate(job);
        if (parserAccepts !== schemaAccepts) {
          const problems = parsed.problems.map((problem) => problem.message);
          throw new Error(
            `parser ${parserAccepts ? "accepts" : "refuses"} but schema ${schemaAccepts ? "accepts" : "refuses"}: ${text} ${JSON.stringify({ problems, schema: validate.errors })}`,
          );
        }
        if (!parserAccepts) return;
        accepted++;
        const spec = parsed.jobs[0]?.spec;
        if (spec === undefined) throw new Error(`no spec for ${text}`);
        const line = exportLine("job", exportedJob(spec));
        const reread = parseExportLine(line.trim(), "export:1", emptySettings());
        expect(reread?.spec).toEqual(spec);
      }),
      { seed: SEED, numRuns: 1000 },
    );
    // The corpus must not be all refusals: both answers are exercised.
    expect(accepted).toBeGreaterThan(100);
  });
});

function exportedJob(spec: { id: string }) {
  return {
    id: spec.id,
    spec,
    revision: specRevision(spec as Parameters<typeof specRevision>[0]),
    state: "completed",
    attempts: 1,
    max_retries: 3,
    created_at: 1,
    updated_at: 2,
    next_run_at: 1,
    started_at: 1,
    finished_at: 2,
    exit_code: 0,
    last_error: null,
    source: FILE,
    declared: true,
    completed_revisions: [],
    canceled_by: null,
    schedule_id: null,
    attempt_history: [],
  };
}
