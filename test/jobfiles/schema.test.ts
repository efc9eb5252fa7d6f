/**
 * The shipped JSON Schema and the example folder. A small validator for the keywords the
 * schema uses checks that editors would accept every example and flag the usual typos.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseAllDocuments } from "yaml";
import { SPEC_FIELDS } from "../../src/core/spec.ts";
import { parseJobfile } from "../../src/jobfiles/parse.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

const REPO = resolve(import.meta.dir, "../..");
const SCHEMA_PATH = join(REPO, "schema/jobfile.schema.json");
type Schema = Record<string, unknown>;
const schema = JSON.parse(readFileSync(SCHEMA_PATH, "utf8")) as Schema;

function typeOf(value: unknown): string {
  if (Array.isArray(value)) return "array";
  if (value === null) return "null";
  if (Number.isInteger(value)) return "integer";
  return typeof value;
}

/** True when `value` satisfies `node`; covers exactly the keywords jobfile.schema.json uses. */
function valid(value: unknown, node: Schema): boolean {
  if (typeof node.$ref === "string") {
    const target = node.$ref.replace("#/definitions/", "");
    return valid(value, (schema.definitions as Record<string, Schema>)[target] as Schema);
  }
  const type = typeOf(value);
  if (node.type !== undefined) {
    const types = ([] as string[]).concat(node.type as string);
    if (!types.includes(type) && !(type === "integer" && types.includes("number"))) return false;
  }
  if (node.enum && !(node.enum as unknown[]).includes(value)) return false;
  if (typeof value === "string") {
    if (typeof node.minLength === "number" && value.length < node.minLength) return false;
    if (typeof node.maxLength === "number" && value.length > node.maxLength) return false;
    if (typeof node.pattern === "string" && !new RegExp(node.pattern).test(value)) return false;
  }
  if (typeof value === "number") {
    if (typeof node.minimum === "number" && value < node.minimum) return false;
    if (typeof node.maximum === "number" && value > node.maximum) return false;
  }
  if (Array.isArray(value)) {
    if (typeof node.minItems === "number" && value.length < node.minItems) return false;
    if (node.items && !value.every((item) => valid(item, node.items as Schema))) return false;
  }
  if (type === "object") {
    const object = value as Record<string, unknown>;
    const properties = (node.properties ?? {}) as Record<string, Schema>;
    if (((node.required ?? []) as string[]).some((key) => !(key in object))) return false;
    for (const [key, item] of Object.entries(object)) {
      const property = properties[key];
      if (property) {
        if (!valid(item, property)) return false;
      } else if (node.additionalProperties === false) return false;
      else if (
        typeof node.additionalProperties === "object" &&
        !valid(item, node.additionalProperties as Schema)
      )
        return false;
      if (node.propertyNames && !valid(key, node.propertyNames as Schema)) return false;
    }
  }
  if (node.oneOf && (node.oneOf as Schema[]).filter((option) => valid(value, option)).length !== 1)
    return false;
  if (node.not && valid(value, node.not as Schema)) return false;
  if (node.if) {
    const branch = valid(value, node.if as Schema) ? node.then : node.else;
    if (branch && !valid(value, branch as Schema)) return false;
  }
  return true;
}

function exampleFiles(dir = join(REPO, "jobs")): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? exampleFiles(path) : [path];
  });
}

describe("schema/jobfile.schema.json", () => {
  test("describes exactly the fields a jobfile job may have", () => {
    const job = (schema.definitions as Record<string, Schema>).job as Schema;
    const fields = Object.keys(job.properties as object).filter((key) => key !== "$schema");
    expect(fields.sort()).toEqual(SPEC_FIELDS.filter((field) => field !== "state").sort());
  });

  test("accepts the forms and flags typos, missing ids in lists, and run_at with delay", () => {
    expect(valid({ command: "echo" }, schema)).toBe(true);
    expect(valid({ jobs: [{ command: "echo" }] }, schema)).toBe(true);
    expect(
      valid(
        {
          jobs: [
            { id: "a", command: "echo" },
            { id: "b", command: ["echo", "b"] },
          ],
        },
        schema,
      ),
    ).toBe(true);
    expect(valid({ command: "echo", max_retry: 1 }, schema)).toBe(false);
    expect(valid({ jobs: [{ command: "echo" }, { id: "b", command: "echo" }] }, schema)).toBe(false);
    expect(valid({ command: "echo", run_at: "2030-01-01T00:00:00Z", delay: "5s" }, schema)).toBe(false);
    expect(valid({ command: "echo", timeout: "5 minutes" }, schema)).toBe(false);
    expect(valid({ command: "echo", env: { "1BAD": "x" } }, schema)).toBe(false);
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
      for (const doc of parseAllDocuments(text)) expect(valid(doc.toJS(), schema)).toBe(true);
    });
  }
});
