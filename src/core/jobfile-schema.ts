/**
 * The JSON Schema editors check jobfiles with (schema/jobfile.schema.json), built from the
 * field table in spec-fields.ts plus the file-level forms parse.ts reads: one job, or a
 * `jobs:` list whose jobs each need an `id` when there are several. `bun run schema`
 * writes it; a test fails while the committed file differs from what this returns.
 */

import { MATRIX_KEY_PATTERN, MAX_MATRIX_JOBS } from "./matrix.ts";
import { type JsonSchema, NOT_WITH_SCHEDULE, SCHEDULE_ONLY_FIELDS, SPEC_FIELD_TABLE } from "./spec-fields.ts";

/**
 * JSON Schema's if/then/else, built from entries: an object literal with a `then` key is
 * what linters flag as a would-be promise.
 */
function conditional(condition: JsonSchema, then: JsonSchema, otherwise?: JsonSchema): JsonSchema {
  const entries: [string, JsonSchema][] = [
    ["if", condition],
    ["then", then],
  ];
  if (otherwise) entries.push(["else", otherwise]);
  return Object.fromEntries(entries);
}

const SCHEMA_KEY_DESCRIPTION = "Where editors find this schema; queuectl ignores it.";

const MATRIX_VALUE: JsonSchema = { type: ["string", "number", "boolean"] };
const matrixEntries = (description: string): JsonSchema => ({
  description,
  type: "array",
  items: {
    type: "object",
    minProperties: 1,
    propertyNames: { pattern: MATRIX_KEY_PATTERN },
    additionalProperties: MATRIX_VALUE,
  },
});

/**
 * `matrix` is no job field: it is read off a jobfile declaration before the spec is
 * (src/core/matrix.ts), so enqueue never takes it. What no schema can say is left to the
 * parser: placeholders naming known keys, the cap, and ids that come out distinct.
 */
const MATRIX_SCHEMA: JsonSchema = {
  description: `Jobfiles only: one job per combination of these lists' values, with \${{ matrix.KEY }} replaced in every string field. Ids: the id with placeholders replaced, or else the id (or the file's path) with "-" and the values appended in alphabetical order of the keys (build-eu-s). At most ${MAX_MATRIX_JOBS} jobs per declaration. Default: none.`,
  type: "object",
  minProperties: 1,
  propertyNames: { pattern: MATRIX_KEY_PATTERN },
  properties: {
    include: matrixEntries(
      "Combinations to extend or add: an entry that agrees with a combination's list values adds its other values to it; one that agrees with none is a new combination.",
    ),
    exclude: matrixEntries("Combinations to leave out: those matching every key and value of an entry."),
  },
  additionalProperties: { type: "array", minItems: 1, uniqueItems: true, items: MATRIX_VALUE },
};

function jobSchema(): JsonSchema {
  return {
    type: "object",
    properties: {
      $schema: {
        description:
          "Where editors find this schema, for JSON files (YAML files use a `# yaml-language-server: $schema=…` comment). Only at the top of a file; queuectl ignores it.",
        type: "string",
      },
      ...SPEC_FIELD_TABLE,
      matrix: MATRIX_SCHEMA,
    },
    required: ["command"],
    additionalProperties: false,
    // The rules between fields, as normalizeSpec applies them.
    dependencies: Object.fromEntries(SCHEDULE_ONLY_FIELDS.map((field) => [field, ["schedule"]])),
    not: { required: ["run_at", "delay"] },
    ...conditional(
      { required: ["schedule"] },
      {
        not: { anyOf: NOT_WITH_SCHEDULE.map((field) => ({ required: [field] })) },
        // An empty `after` normalizes to none, so only a non-empty one conflicts with a schedule.
        properties: { after: { type: "array", maxItems: 0 } },
      },
    ),
  };
}

export function jobfileSchema(): JsonSchema {
  return {
    $schema: "http://json-schema.org/draft-07/schema#",
    title: "queuectl jobfile",
    description:
      "One job, or a `jobs:` list of jobs, that `queuectl sync` and `queuectl watch` reconcile into the queue. A YAML file may also hold several `---`-separated documents, each one job or one `jobs:` list.",
    ...conditional(
      { type: "object", required: ["jobs"] },
      { $ref: "#/definitions/jobList" },
      { $ref: "#/definitions/job" },
    ),
    definitions: {
      jobList: {
        type: "object",
        properties: {
          $schema: { description: SCHEMA_KEY_DESCRIPTION, type: "string" },
          jobs: {
            description: "The jobs this file declares. When there is more than one, each needs its own `id`.",
            type: "array",
            items: { $ref: "#/definitions/job" },
          },
        },
        required: ["jobs"],
        additionalProperties: false,
        ...conditional(
          { properties: { jobs: { minItems: 2 } } },
          { properties: { jobs: { items: { required: ["id"] } } } },
        ),
      },
      job: jobSchema(),
    },
  };
}

/** The schema as two-space JSON; biome then lays it out (the test compares the parsed value). */
export function jobfileSchemaText(): string {
  return `${JSON.stringify(jobfileSchema(), null, 2)}\n`;
}
