/**
 * The one place queuectl reads YAML: enqueue input (src/core/job-input.ts), jobfiles
 * (src/jobfiles/parse.ts) and a jobs folder's settings (src/jobfiles/folder-settings.ts).
 * Every reader gets the same parser options (repeated keys refused, errors without the
 * library's multi-line excerpt), the same one-line messages with line and column, and the
 * same cap on alias expansion.
 */

import type * as YamlModule from "yaml";
import type { Node } from "yaml";

export type YamlLibrary = typeof YamlModule;
export type YamlDocument = ReturnType<YamlLibrary["parseAllDocuments"]>[number];

/** YAML alias expansions allowed per document; a "billion laughs" document fails fast at this cap. */
const MAX_ALIAS_COUNT = 100;

let library: YamlLibrary | undefined;
/**
 * The YAML library, loaded at first use: it costs more start-up time (~20 ms) than the whole
 * rest of `queuectl enqueue '<json>'`, and a sync whose files all come from its read index
 * never needs it.
 */
export function yamlLibrary(): YamlLibrary {
  library ??= require("yaml") as YamlLibrary;
  return library;
}

export interface TextPlace {
  line: number;
  column: number;
}

export interface YamlProblem extends TextPlace {
  offset: number;
  /** The library's message, first line only. */
  message: string;
}

export interface YamlText {
  /** Every `---`-separated document, empty ones included. */
  documents: YamlDocument[];
  /** Syntax errors of every document, in document order. */
  errors: YamlProblem[];
  /** What the library reads anyway but flags (an unknown `!tag`, a `%YAML 1.3` directive). */
  warnings: YamlProblem[];
  /** Line and column (both from 1) of an offset into the text. */
  place(offset: number): TextPlace;
}

/**
 * Which scalars keep the characters written where YAML would read a number: plain YAML reads
 * `id: 007` as 7 and `VERSION: 1.10` as 1.1.
 *
 * - "job fields": a job's `id` and its `env` values, in a job, a list of jobs, or a `jobs:`
 *   list. Ids and env values are text, so enqueue keeps `007` as "007".
 * - "none": YAML's own reading. Jobfiles use it although "007" is what a user means: a
 *   jobfile's id is its job's identity and its spec's revision is the hash of the values, so
 *   reading `id: 007` as "007" instead of "7" (or `VERSION: 1.10` as "1.10") would cancel the
 *   job every existing user has in the store and queue a new one at the next sync.
 *   The folder settings have no such field.
 */
export type NumbersAsWritten = "job fields" | "none";

export interface YamlReadOptions {
  /** No default: each reader states its choice (see NumbersAsWritten). */
  numbersAsWritten: NumbersAsWritten;
}

/** Parses every document of `text`, collecting problems instead of throwing. */
export function readYaml(text: string, options: YamlReadOptions): YamlText {
  const yaml = yamlLibrary();
  const lineCounter = new yaml.LineCounter();
  const parsed = yaml.parseAllDocuments(text, { uniqueKeys: true, prettyErrors: false, lineCounter });
  const documents: YamlDocument[] = Array.isArray(parsed) ? parsed : [parsed];
  const place = (offset: number): TextPlace => {
    const position = lineCounter.linePos(offset);
    // Line 0: the counter saw no line start before the offset (an empty text).
    return position.line > 0 ? { line: position.line, column: position.col } : linePosition(text, offset);
  };
  const problem = (error: YamlModule.YAMLError): YamlProblem => ({
    offset: error.pos[0],
    ...place(error.pos[0]),
    message: firstLine(error.message),
  });
  if (options.numbersAsWritten === "job fields")
    for (const doc of documents) keepJobFieldText(yaml, doc.contents);
  return {
    documents,
    errors: documents.flatMap((doc) => doc.errors.map(problem)),
    warnings: documents.flatMap((doc) => doc.warnings.map(problem)),
    place,
  };
}

/** A document's value; throws when it expands more aliases than a job could need. */
export function documentValue(doc: YamlDocument): unknown {
  return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
}

/** `name:3:5: invalid YAML (…)`: the first syntax error, with the place it sits. */
export function invalidYamlMessage(name: string, problem: YamlProblem): string {
  return `${name}:${problem.line}:${problem.column}: invalid YAML (${problem.message})`;
}

/** The first line of an error message, without a trailing "at line 3, column 5". */
export function firstLine(text: string): string {
  // The library quotes the source it choked on, which may hold a lone carriage return: an
  // error is one line, so it ends there too.
  return (text.split(/\r\n|\n|\r/)[0] ?? "").replace(/ at line \d+, column \d+:?$/, "");
}

/** Line and column of an offset, counted in the text itself. */
export function linePosition(text: string, offset: number): TextPlace {
  const before = text.slice(0, offset).split("\n");
  return { line: before.length, column: (before[before.length - 1]?.length ?? 0) + 1 };
}

function keepJobFieldText(yaml: YamlLibrary, contents: unknown): void {
  const keepNumberText = (node: unknown) => {
    if (yaml.isScalar(node) && typeof node.value === "number" && typeof node.source === "string")
      node.value = node.source;
  };
  for (const job of jobNodes(yaml, contents)) {
    if (!yaml.isMap(job)) continue;
    for (const pair of job.items) {
      const key = yaml.isScalar(pair.key) ? pair.key.value : undefined;
      if (key === "id") keepNumberText(pair.value);
      if (key === "env" && yaml.isMap(pair.value))
        for (const entry of pair.value.items) keepNumberText(entry.value);
    }
  }
}

/**
 * Only where jobs sit (the document, its list, or its `jobs:` list): walking the whole tree
 * would make a deeply nested hostile document quadratic.
 */
function jobNodes(yaml: YamlLibrary, contents: unknown): unknown[] {
  if (yaml.isSeq(contents)) return contents.items;
  if (!yaml.isMap(contents)) return [];
  const jobs = contents.items.length === 1 ? contents.items[0] : undefined;
  const key = jobs && yaml.isScalar(jobs.key) ? jobs.key.value : undefined;
  return key === "jobs" && yaml.isSeq(jobs?.value) ? (jobs.value.items as Node[]) : [contents];
}
