/**
 * Turns enqueue input (JSON, YAML, NDJSON; one job or many) into normalized new jobs.
 * Every error names where it happened: the line of an NDJSON file or the item of a list.
 */

import type { QueueConfig } from "./config.ts";
import type { JobOrigin } from "./dependencies.ts";
import { UserError } from "./errors.ts";
import { findDuplicateJsonKey, isNdjsonText, jsonErrorOffset } from "./json-text.ts";
import { isStackOverflow, NESTED_TOO_DEEPLY } from "./nesting-depth.ts";
import { firstRunAt, generateJobId, type JobSpec, normalizeSpec, specRevision } from "./spec.ts";
import { nulBytes } from "./text-lines.ts";
import { documentValue, keyText, YamlAliasError, type YamlDocument, yamlLibrary } from "./yaml-aliases.ts";
import { firstLine, invalidYamlMessage, linePosition, readYaml } from "./yaml-text.ts";

export interface JobInputItem {
  value: unknown;
  /** "line 3" or "item 2": where the job sits in the input. */
  where: string;
  /** The item's text when it is exactly what JSON.stringify writes for `value` (NDJSON lines only). */
  text?: string;
}

export type InputFormat = "json" | "yaml" | "ndjson";

/** The `name` enqueue passes for its JSON argument; errors about it need no "where". */
export const ARGUMENT_NAME = "the job JSON";

/** The `name` add passes: its job is made of options, so later errors name the option. */
export const COMMAND_LINE_NAME = "the command line";

export function formatFromName(name: string): InputFormat | undefined {
  if (/\.(ndjson|jsonl)$/i.test(name)) return "ndjson";
  if (/\.ya?ml$/i.test(name)) return "yaml";
  if (/\.json$/i.test(name)) return "json";
  return undefined;
}

function listItems(value: unknown, name: string): JobInputItem[] {
  const object = typeof value === "object" && value !== null && !Array.isArray(value);
  // `{"jobs": [...]}` is a list of jobs; anything else with a `jobs` key (`jobs` holding one
  // job beside a job's own fields) is one job, whose `jobs` is then an unknown field.
  const wrapped = object && "jobs" in value && (Array.isArray(value.jobs) || Object.keys(value).length === 1);
  // A list with something beside it: taking the whole as one job would blame `jobs`, the one
  // key that is right.
  const beside =
    wrapped && Array.isArray(value.jobs) ? Object.keys(value).find((key) => key !== "jobs") : undefined;
  if (beside !== undefined) {
    throw new UserError(
      `${name}: \`${beside}\` cannot sit next to \`jobs\``,
      "move it into each job, or give a single job without `jobs`; nothing was enqueued",
    );
  }
  const list = wrapped ? (value as { jobs: unknown }).jobs : value;
  // `{"jobs": {}}` or `{"jobs": 3}`: a list was meant, and "`command` is required" would mislead.
  if (
    wrapped &&
    !Array.isArray(list) &&
    (typeof list !== "object" || list === null || Object.keys(list).length === 0)
  ) {
    throw new UserError(
      `${name}: \`jobs\` must be a list of jobs`,
      'e.g. {"jobs":[{"id":"job1","command":"echo hi"}]}; nothing was enqueued',
    );
  }
  if (Array.isArray(list)) return list.map((item, index) => ({ value: item, where: `item ${index + 1}` }));
  return [{ value: list, where: "the job" }];
}

function parseNdjson(text: string, name: string): JobInputItem[] {
  const items: JobInputItem[] = [];
  const lines = text.split("\n");
  for (let index = 0; index < lines.length; index++) {
    const line = (lines[index] ?? "").trim();
    if (line !== "") items.push(parseNdjsonLine(line, index + 1, name));
  }
  return items;
}

/** One non-blank NDJSON line; a bad one is refused naming its line. */
export function parseNdjsonLine(line: string, number: number, name: string): JobInputItem {
  try {
    const value = JSON.parse(line);
    // Text that is exactly what JSON.stringify writes holds every key once; only other text
    // (spaces, escapes, repeated keys) needs the scan, which costs a bulk input more.
    if (JSON.stringify(value) === line) return { value, where: `line ${number}`, text: line };
    return { value: checkedJson(value, line, ""), where: `line ${number}` };
  } catch (error) {
    if (error instanceof UserError)
      throw new UserError(`${name}, line ${number}: ${error.message}`, error.hint);
    // Valid JSON too deep for the checks after the parse: said as YAML's depth is, not as a crash.
    if (isStackOverflow(String((error as Error)?.message)))
      throw new UserError(`${name}, line ${number}: ${NESTED_TOO_DEEPLY}`, "nothing was enqueued");
    throw new UserError(
      `${name}, line ${number}: invalid JSON (${(error as Error).message})`,
      "each line must hold one JSON job object; nothing was enqueued",
    );
  }
}

/**
 * A mapping anchored beside `jobs:` (`defaults: &d {…}`, used as `<<: *d`) only lends its
 * fields to the jobs, as in a jobfile: it is dropped, not read as a key beside the list.
 */
function withoutLentMappings(doc: YamlDocument, value: unknown): unknown {
  const root = doc.contents;
  const yaml = yamlLibrary();
  if (!yaml.isMap(root) || !root.has("jobs") || typeof value !== "object" || value === null) return value;
  const lent = root.items
    .filter((pair) => keyText(pair.key) !== "jobs" && yaml.isNode(pair.value) && Boolean(pair.value.anchor))
    .map((pair) => keyText(pair.key));
  if (lent.length === 0) return value;
  return Object.fromEntries(Object.entries(value).filter(([key]) => !lent.includes(key)));
}

function parseYaml(text: string, name: string): JobInputItem[] {
  const yaml = readYaml(text, { numbersAsWritten: "job fields" });
  const problem = yaml.errors[0];
  if (problem)
    throw new UserError(invalidYamlMessage(name, problem), problem.fix ?? "fix the syntax and try again");
  const items: JobInputItem[] = [];
  for (const [docIndex, doc] of yaml.documents.entries()) {
    let value: unknown;
    try {
      value = documentValue(doc);
    } catch (error) {
      if (error instanceof YamlAliasError) {
        const { line, column } = yaml.place(error.offset);
        throw new UserError(`${name}:${line}:${column}: ${error.message}`, error.hint);
      }
      throw new UserError(`${name}: ${firstLine((error as Error).message)}`, "fix the YAML and try again");
    }
    if (value === null || value === undefined) continue;
    const parsed = listItems(withoutLentMappings(doc, value), name);
    if (yaml.documents.length > 1)
      for (const item of parsed) item.where = `document ${docIndex + 1}, ${item.where}`;
    items.push(...parsed);
  }
  return items;
}

/** Parses raw input. With no format hint, JSON is tried first, then NDJSON, then YAML. */
export function parseJobInput(text: string, name: string, format?: InputFormat): JobInputItem[] {
  if (text.includes("\0")) throw nulBytes(name);
  if (text.trim() === "")
    throw new UserError(`${name} is empty`, 'give a job such as {"id":"job1","command":"echo hi"}');
  if (format === "ndjson") return parseNdjson(text, name);
  if (format === "yaml") return parseYaml(text, name);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    if (format === "json") throw invalidJson(name, text, error as Error);
  }
  if (parsed !== undefined) return listItems(checkedJson(parsed, text, name), name);
  const lines = text.trim().split("\n");
  if (lines.length > 1 && lines.every((line) => line.trim() === "" || line.trim().startsWith("{"))) {
    return parseNdjson(text, name);
  }
  const trimmed = text.trim();
  if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
    try {
      JSON.parse(trimmed);
    } catch (error) {
      throw invalidJson(name, text, error as Error);
    }
  }
  return parseYaml(text, name);
}

/**
 * Text that is not one JSON document, with the fix that fits where it came from: quoting
 * for the command line's argument, the NDJSON format for one job per line, else the file.
 */
function invalidJson(name: string, text: string, error: Error): UserError {
  const message = `${name}: invalid JSON (${error.message})`;
  if (name === ARGUMENT_NAME)
    return new UserError(message, `quote the job in single quotes: '{"id":"job1","command":"echo hi"}'`);
  if (isNdjsonText(text)) {
    return new UserError(
      `${name}: one JSON job per line is NDJSON, not one JSON document`,
      "name the file .ndjson or pass --format ndjson; nothing was enqueued",
    );
  }
  // A file's error is placed, as YAML's are (name:line:column); the argument is one line anyway.
  const offset = jsonErrorOffset(text);
  const at = offset === null ? null : linePosition(text, offset);
  const place = at === null ? "" : `:${at.line}:${at.column}`;
  return new UserError(
    `${name}${place}: invalid JSON (${error.message.replace(/^JSON Parse error: /, "")})`,
    "give one job object or an array of them; nothing was enqueued",
  );
}

function checkedJson(value: unknown, text: string, name: string): unknown {
  const duplicate = findDuplicateJsonKey(text);
  if (duplicate !== undefined) {
    const prefix = name ? `${name}: ` : "";
    throw new UserError(
      `${prefix}the key "${duplicate}" appears twice in one object`,
      "keep only one of them",
    );
  }
  return value;
}

export interface PreparedJob {
  spec: JobSpec;
  revision: string;
  maxRetries: number;
  nextRunAt: number;
  /** The input's name and where the job sits in it (see jobOrigin). */
  input: string;
  where: string;
  /** False when the id was generated: the user never saw it, so no error names it. */
  idGiven: boolean;
}

/** Where a prepared job came from, for an error found only once the store reads it. */
export function jobOrigin(job: PreparedJob): JobOrigin {
  const door =
    job.input === COMMAND_LINE_NAME ? "options" : job.input === ARGUMENT_NAME ? "argument" : "input";
  return { door, input: job.input, where: job.where, idGiven: job.idGiven };
}

/** Validates every item; the first bad one aborts the whole input, naming where it sits. */
export function prepareJobs(
  items: JobInputItem[],
  name: string,
  config: QueueConfig,
  now: number,
): PreparedJob[] {
  if (items.length === 0)
    throw new UserError(`${name} holds no jobs`, 'give a job such as {"id":"job1","command":"echo hi"}');
  // Where each id first appeared: a repeated id inside one input would otherwise surface as
  // "already exists" from the store, without saying which two items collide.
  const seen = new Map<string, string>();
  return items.map((item) => {
    const job = prepareJob(item, name, config, now, items.length > 1);
    const first = seen.get(job.spec.id);
    if (first !== undefined) throw repeatedIdError(name, item.where, job.spec.id, first);
    seen.set(job.spec.id, item.where);
    return job;
  });
}

export function repeatedIdError(name: string, where: string, id: string, first: string): UserError {
  return new UserError(
    `${name}, ${where}: the id "${id}" is already used by ${first}`,
    "give every job its own id; nothing was enqueued",
  );
}

/** Validates one item; `many` says it is one of several, so its error names where it sits. */
export function prepareJob(
  item: JobInputItem,
  name: string,
  config: QueueConfig,
  now: number,
  many: boolean,
): PreparedJob {
  let spec: JobSpec;
  try {
    spec = normalizeSpec(item.value, { generateId: generateJobId, now });
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    // The argument is the job itself; a file or a list names where the bad job sits.
    const at = many ? `${name}, ${item.where}: ` : name === ARGUMENT_NAME ? "" : `${name}: `;
    const hint = many ? [error.hint, "nothing was enqueued"].filter(Boolean).join("; ") : error.hint;
    throw new UserError(`${at}${error.message}`, hint, error.exitCode);
  }
  return {
    spec,
    revision: specRevision(spec),
    maxRetries: spec.max_retries ?? config.maxRetries,
    nextRunAt: firstRunAt(spec, now),
    input: name,
    where: item.where,
    // As normalizeSpec decides: an id that is absent or null is generated.
    idGiven: (item.value as { id?: unknown }).id != null,
  };
}
