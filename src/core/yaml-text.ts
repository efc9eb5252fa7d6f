/**
 * The one place queuectl reads YAML: enqueue input (src/core/job-input.ts), jobfiles
 * (src/jobfiles/parse.ts) and a jobs folder's settings (src/jobfiles/folder-settings.ts).
 * Every reader gets the same parser options (repeated keys refused, YAML 1.1 merge keys
 * `<<` read, errors without the library's multi-line excerpt), the same one-line messages
 * with line and column, and the same caps on alias and merge expansion (yaml-aliases.ts).
 */

import type * as YamlModule from "yaml";
import type { Node } from "yaml";
import { withOneStackOverflow } from "./nesting-depth.ts";
import {
  isMergeKey,
  mergeSources,
  type YamlDocument,
  type YamlLibrary,
  yamlLibrary,
} from "./yaml-aliases.ts";

export interface TextPlace {
  line: number;
  column: number;
}

export interface YamlProblem extends TextPlace {
  offset: number;
  /** The library's message, first line only; with `fix`, queuectl's own words instead. */
  message: string;
  /** The fix of a mistake queuectl recognizes (an unquoted cron pattern), said in its place. */
  fix?: string;
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
 * - "settings": every value of the document's top-level mapping, as a folder's settings
 *   file holds only names (`namespace: 2024`; `namespace: 1.10` is "1.10"). Unlike a
 *   jobfile's id, a namespace YAML reads as a number was never accepted, so reading it as
 *   written renames no job any store holds.
 * - "none": YAML's own reading. Jobfiles use it although "007" is what a user means: a
 *   jobfile's id is its job's identity and its spec's revision is the hash of the values, so
 *   reading `id: 007` as "007" instead of "7" (or `VERSION: 1.10` as "1.10") would cancel the
 *   job every existing user has in the store and queue a new one at the next sync.
 */
export type NumbersAsWritten = "job fields" | "settings" | "none";

export interface YamlReadOptions {
  /** No default: each reader states its choice (see NumbersAsWritten). */
  numbersAsWritten: NumbersAsWritten;
}

/** Parses every document of `text`, collecting problems instead of throwing. */
export function readYaml(text: string, options: YamlReadOptions): YamlText {
  const yaml = yamlLibrary();
  const lineCounter = new yaml.LineCounter();
  // Merge keys, as CI configs write them: `<<: *defaults` brings in the fields of the mapping
  // anchored `&defaults` that the job does not write itself. A quoted "<<" (all of JSON) is a key.
  // Repeated keys are found by duplicateKeyErrors: the library's own check compares each key
  // with every earlier one, and a 700 KB mapping of 60,000 keys took half a minute.
  // logLevel "error": the library's warnings go to process.emitWarning, two lines of Node's
  // on stderr; what it would warn of is an error of our own (addShapeErrors).
  const parsed = yaml.parseAllDocuments(text, {
    uniqueKeys: false,
    prettyErrors: false,
    merge: true,
    lineCounter,
    logLevel: "error",
  });
  const documents: YamlDocument[] = Array.isArray(parsed) ? parsed : [parsed];
  for (const doc of documents) addShapeErrors(yaml, doc);
  const place = (offset: number): TextPlace => {
    // An error at the very end (an unclosed `[` or quote) sits after the last newline, on a
    // line the file does not have: it is placed at the end of the last line instead.
    if (offset >= text.length && /(\r\n|\n|\r)$/.test(text))
      offset = text.replace(/(\r\n|\n|\r)$/, "").length;
    const position = lineCounter.linePos(offset);
    // Line 0: the counter saw no line start before the offset (an empty text).
    return position.line > 0 ? { line: position.line, column: position.col } : linePosition(text, offset);
  };
  const problem = (error: YamlModule.YAMLError): YamlProblem => ({
    offset: error.pos[0],
    ...place(error.pos[0]),
    message: firstLine(error.message),
  });
  if (options.numbersAsWritten === "job fields") for (const doc of documents) keepJobFieldText(yaml, doc);
  if (options.numbersAsWritten === "settings") for (const doc of documents) keepSettingText(yaml, doc);
  const errors = unquotedAliases(
    text,
    documents.flatMap((doc) => doc.errors.map(problem)),
    place,
  );
  return {
    documents,
    errors: withOneStackOverflow(errors, text, place),
    warnings: documents.flatMap((doc) => doc.warnings.map(problem)),
    place,
  };
}

/** Tags whose values read as a JS Map or Set, which a job's fields would silently lose. */
const UNREAD_TAGS = new Set(["tag:yaml.org,2002:omap", "tag:yaml.org,2002:set", "tag:yaml.org,2002:pairs"]);

/**
 * Errors for what a job cannot be read from, found in one walk of the document: "Map keys
 * must be unique" where the library's `uniqueKeys` would say it (keys equal as scalars, `<<`
 * included; one set per mapping), a key that is a list or mapping, and `!!omap`, `!!set` or
 * `!!pairs` (they read as a Map or Set, which `env` or `limits` would take as empty).
 */
function addShapeErrors(yaml: YamlLibrary, doc: YamlDocument): void {
  let added = false;
  const refuse = (
    node: { range?: [number, number, number] | null },
    code: YamlModule.ErrorCode,
    message: string,
  ) => {
    const offset = node.range?.[0] ?? 0;
    doc.errors.push(new yaml.YAMLParseError([offset, offset + 1], code, message));
    added = true;
  };
  const stack: unknown[] = [doc.contents];
  while (stack.length > 0) {
    const node = stack.pop();
    if (yaml.isPair(node)) {
      if (yaml.isCollection(node.key)) {
        refuse(node.key, "BAD_SCALAR_START", "a key must be a plain value, not a list or mapping");
        continue;
      }
      stack.push(node.value, node.key);
      continue;
    }
    if (!yaml.isCollection(node)) continue;
    if (node.tag !== undefined && UNREAD_TAGS.has(node.tag)) {
      refuse(
        node,
        "TAG_RESOLVE_FAILED",
        `${node.tag.replace("tag:yaml.org,2002:", "!!")} is not read here: write a plain mapping or list`,
      );
      continue;
    }
    if (yaml.isMap(node)) {
      const keys = new Set<unknown>();
      for (const pair of node.items) {
        if (!yaml.isScalar(pair.key)) continue;
        if (!keys.has(pair.key.value)) {
          keys.add(pair.key.value);
          continue;
        }
        refuse(pair.key, "DUPLICATE_KEY", "Map keys must be unique");
      }
    }
    for (let i = node.items.length - 1; i >= 0; i--) stack.push(node.items[i]);
  }
  if (added) doc.errors.sort((a, b) => a.pos[0] - b.pos[0]);
}

/** Lines longer than this are left to the library's own errors: no cron line is near it. */
const MAX_STAR_LINE = 1000;

/**
 * `key: *…` in block style, a value starting with `*` and more than an alias name: `* * * * *`
 * as a cron pattern. The key as written and the value without a trailing comment, or null.
 * Found by position, not by one pattern with two lazy parts: that one backtracked for every
 * `: *` of a long line it did not match, 48 s for a hostile 320 KB line.
 */
function unquotedStar(line: string): { key: string; value: string } | null {
  if (line.length > MAX_STAR_LINE) return null;
  const colon = line.search(/:[ \t]+\*/);
  if (colon < 0) return null;
  const key = line.slice(0, colon).replace(/^[ \t]*(?:-[ \t]+)*/, "");
  // A flow mapping or list (`{id: a, schedule: */5 …}`): where the value ends is not this line's
  // end, and a fix built from it would be wrong; the library's errors stand.
  if (key === "" || key.startsWith("#") || /[{}[\],]/.test(key)) return null;
  const value = line
    .slice(line.indexOf("*", colon))
    .replace(/[ \t]+#.*$/, "")
    .trimEnd();
  return { key, value };
}

/**
 * A plain value starting with `*` is an alias to YAML, so a cron pattern left unquoted, the
 * jobfile mistake new users make most, came out as one "Unexpected alias" per `*` after the
 * first, none of which said to quote it. The errors on such a line are said once, where the
 * value starts, with the quoted line as the fix. An alias name is one word, so a value with
 * a space in it (or a lone `*`) can be nothing else.
 */
function unquotedAliases(
  text: string,
  errors: YamlProblem[],
  place: (offset: number) => TextPlace,
): YamlProblem[] {
  const lines = new Map<number, YamlProblem | null>();
  for (const error of errors) {
    if (!/\balias\b/i.test(error.message)) continue;
    const start = text.lastIndexOf("\n", error.offset - 1) + 1;
    if (lines.has(start)) continue;
    const end = text.indexOf("\n", start);
    const line = text.slice(start, end === -1 ? text.length : end).replace(/\r$/, "");
    const match = unquotedStar(line);
    const key = match?.key ?? "";
    const value = match?.value ?? "";
    if (!match || (value !== "*" && !/\s/.test(value))) {
      lines.set(start, null);
      continue;
    }
    // The line starts with blanks and `- `, then the key: the value is the first `*` after it.
    const offset = start + line.indexOf("*", line.indexOf(key) + key.length);
    const name = key.replace(/^["']|["']$/g, "");
    const what = name === "schedule" ? "the schedule's cron expression" : `the value of \`${name}\``;
    lines.set(start, {
      offset,
      ...place(offset),
      message: `${what} starts with *, which YAML reads as an alias`,
      fix: `quote it: ${key}: ${JSON.stringify(value)}`,
    });
  }
  if (![...lines.values()].some(Boolean)) return errors;
  const said = new Set<number>();
  return errors.flatMap((error) => {
    const start = text.lastIndexOf("\n", error.offset - 1) + 1;
    const replaced = lines.get(start);
    // An error before the value (an unclosed `[` on the line above ends at its start) is another mistake.
    if (!replaced || error.offset < replaced.offset) return [error];
    if (said.has(start)) return [];
    said.add(start);
    return [replaced];
  });
}

/** The message of a problem, in the library's words or, for one with a `fix`, queuectl's. */
export function yamlProblemText(problem: YamlProblem): string {
  return problem.fix === undefined ? `invalid YAML (${problem.message})` : problem.message;
}

/** `name:3:5: invalid YAML (…)`: the first syntax error, with the place it sits. */
export function invalidYamlMessage(name: string, problem: YamlProblem): string {
  return `${name}:${problem.line}:${problem.column}: ${yamlProblemText(problem)}`;
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

/** A number's scalar reads as the characters written: `007` stays "007", `1.10` stays "1.10". */
function keepNumberText(yaml: YamlLibrary, node: unknown): void {
  if (yaml.isScalar(node) && typeof node.value === "number" && typeof node.source === "string")
    node.value = node.source;
}

function keepSettingText(yaml: YamlLibrary, doc: YamlDocument): void {
  if (yaml.isMap(doc.contents)) for (const pair of doc.contents.items) keepNumberText(yaml, pair.value);
}

function keepJobFieldText(yaml: YamlLibrary, doc: YamlDocument): void {
  // A mapping merged into a job holds job fields too, so that a field reads the same written
  // out or merged in; each is seen once, however many jobs merge it.
  const seen = new Set<unknown>();
  const keepFieldText = (job: unknown) => {
    if (!yaml.isMap(job) || seen.has(job)) return;
    seen.add(job);
    for (const pair of job.items) {
      if (isMergeKey(pair.key)) {
        for (const source of mergeSources(pair.value, doc)) keepFieldText(source);
        continue;
      }
      const key = yaml.isScalar(pair.key) ? pair.key.value : undefined;
      if (key === "id") keepNumberText(yaml, pair.value);
      if (key === "env" && yaml.isMap(pair.value))
        for (const entry of pair.value.items) keepNumberText(yaml, entry.value);
    }
  };
  for (const job of jobNodes(yaml, doc.contents)) keepFieldText(job);
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
