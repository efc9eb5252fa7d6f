/**
 * The shipped JSON Schema and the example folder: editors would accept every example and
 * flag the usual typos. (test/core/spec-schema.test.ts checks the schema against the parser.)
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import Ajv from "ajv";
import { parseAllDocuments } from "yaml";
import { SPEC_FIELDS } from "../../src/core/spec.ts";
import { parseJobfile } from "../../src/jobfiles/parse.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

const REPO = resolve(import.meta.dir, "../..");
const SCHEMA_PATH = join(REPO, "schema/jobfile.schema.json");
type Schema = Record<string, unknown>;
const schema = JSON.parse(readFileSync(SCHEMA_PATH, "utf8")) as Schema;

const validate = new Ajv({
  allowUnionTypes: true,
  // Style checks for schema authors; the schema is written for editors, which do not mind.
  strictTypes: false,
  strictTuples: false,
}).compile(schema);

function exampleFiles(dir = join(REPO, "jobs")): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? exampleFiles(path) : [path];
  });
}

describe("schema/jobfile.schema.json", () => {
  test("describes exactly the fields a jobfile job may have, plus `matrix`", () => {
    const job = (schema.definitions as Record<string, Schema>).job as Schema;
    const keys = Object.keys(job.properties as object);
    expect(keys).toContain("matrix");
    const fields = keys.filter((key) => key !== "$schema" && key !== "matrix");
    expect(fields.sort()).toEqual([...SPEC_FIELDS].sort());
  });

  test("checks the shape of a matrix", () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the matrix placeholder syntax, not a template
    const job = { id: "build-${{ matrix.region }}", command: "make ${{ matrix.region }}" };
    expect(validate({ ...job, matrix: { region: ["eu", "us"], size: [1, 2] } })).toBe(true);
    expect(
      validate({
        ...job,
        matrix: { region: ["eu"], include: [{ region: "us" }], exclude: [{ region: "eu" }] },
      }),
    ).toBe(true);
    expect(validate({ ...job, matrix: { region: [] } })).toBe(false);
    expect(validate({ ...job, matrix: { region: [{ name: "eu" }] } })).toBe(false);
    expect(validate({ ...job, matrix: { region: ["eu", "eu"] } })).toBe(false);
    expect(validate({ ...job, matrix: { "re.gion": ["eu"] } })).toBe(false);
    expect(validate({ ...job, matrix: {} })).toBe(false);
    expect(validate({ ...job, matrix: ["eu"] })).toBe(false);
  });

  test("accepts the forms and flags typos, missing ids in lists, and run_at with delay", () => {
    expect(validate({ command: "echo" })).toBe(true);
    expect(validate({ jobs: [{ command: "echo" }] })).toBe(true);
    expect(
      validate({
        jobs: [
          { id: "a", command: "echo" },
          { id: "b", command: ["echo", "b"] },
        ],
      }),
    ).toBe(true);
    expect(validate({ command: "echo", max_retry: 1 })).toBe(false);
    expect(validate({ jobs: [{ command: "echo" }, { id: "b", command: "echo" }] })).toBe(false);
    expect(validate({ command: "echo", run_at: "2030-01-01T00:00:00Z", delay: "5s" })).toBe(false);
    expect(validate({ command: "echo", timeout: "5 minutes" })).toBe(false);
    expect(validate({ command: "echo", env: { "1BAD": "x" } })).toBe(false);
  });
});

describe("the example jobs/ folder", () => {
  const files = exampleFiles();

  test("has examples of every form and every field", () => {
    const fields = new Set<string>();
    for (const path of files) {
      for (const doc of parseAllDocuments(readFileSync(path, "utf8"))) {
        const value = doc.toJS() as Record<string, unknown>;
        const jobs = Array.isArray(value.jobs) ? (value.jobs as Record<string, unknown>[]) : [value];
        for (const job of jobs) for (const key of Object.keys(job)) fields.add(key);
      }
    }
    const expected = SPEC_FIELDS.filter((field) => field !== "state");
    for (const field of expected) expect(fields.has(field), `no example shows \`${field}\``).toBe(true);
    expect(files.some((path) => path.endsWith(".json"))).toBe(true);
  });

  for (const path of exampleFiles()) {
    const rel = path.slice(join(REPO, "jobs").length + 1);
    test(`${rel} is valid, for queuectl and for editors`, () => {
      const text = readFileSync(path, "utf8");
      expect(parseJobfile(text, rel).problems).toEqual([]);
      const schemaRef = rel.endsWith(".json")
        ? (JSON.parse(text) as { $schema?: string }).$schema
        : /^# yaml-language-server: \$schema=(\S+)$/m.exec(text)?.[1];
      expect(schemaRef).toBeDefined();
      expect(resolve(dirname(path), schemaRef ?? "")).toBe(SCHEMA_PATH);
      for (const doc of parseAllDocuments(text)) expect(validate(doc.toJS())).toBe(true);
    });
  }
});
