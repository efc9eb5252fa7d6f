/**
 * The one place queuectl reads YAML: enqueue input (src/core/job-input.ts), jobfiles
 * (src/jobfiles/parse.ts) and a jobs folder's settings (src/jobfiles/folder-settings.ts).
 * Every reader gets the same parser options (repeated keys refused, YAML 1.1 merge keys
 * `<<` read, errors without the library's multi-line excerpt), the same one-line messages
 * with line and column, and the same caps on alias and merge expansion.
 */

import type * as YamlModule from "yaml";
import type { Alias, Node, Pair, YAMLMap } from "yaml";
import { withOneStackOverflow } from "./nesting-depth.ts";

export type YamlLibrary = typeof YamlModule;
export type YamlDocument = ReturnType<YamlLibrary["parseAllDocuments"]>[number];

/** YAML alias expansions allowed per document; a "billion laughs" document fails fast at this cap. */
const MAX_ALIAS_COUNT = 100;
/**
 * Values merge keys may copy per document. Unlike an alias, which reads as one shared value,
 * each merge copies its mapping whole, so the alias cap alone let a 1 MiB file of 99 merges
 * of one large mapping take seconds to read. Real files merge a handful of fields per job.
 */
export const MAX_MERGED_VALUES = 100_000;

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
  const errors = documents.flatMap((doc) => doc.errors.map(problem));
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

/** A document's value; throws when it expands more aliases or merges than a job could need. */
export function documentValue(doc: YamlDocument): unknown {
  if (anchorsOf(doc).merges.length > 0) checkMerges(doc);
  return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
}

/** Thrown for a merge key the document cannot be read with; `offset` is where it is written. */
export class MergeKeyError extends Error {
  constructor(
    message: string,
    readonly hint: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

/** Whether `key` is a merge key: a plain `<<`, which the parser reads as a symbol. */
export function isMergeKey(key: unknown): boolean {
  return yamlLibrary().isScalar(key) && typeof key.value === "symbol";
}

/** A mapping key as text: `<<` for a merge key, "" for a null one (`~:`), as the parser's values name it. */
export function keyText(key: unknown): string {
  if (isMergeKey(key)) return "<<";
  const value = yamlLibrary().isScalar(key) ? key.value : key;
  return value === null || value === undefined ? "" : String(value);
}

interface Anchors {
  /** What each alias stands for: the last node before it with its anchor. */
  targets: Map<Alias, Node>;
  /** Every pair whose key is a merge key, each once. */
  merges: Pair[];
}

const anchorsByDocument = new WeakMap<YamlDocument, Anchors>();

/**
 * One walk of the document for every alias in it. The library's own `resolve` walks the
 * whole document for each alias it is asked about, which made a lookup per job quadratic.
 * The walk is our own, in document order with a stack: the library's `visit` copies the path
 * to every node, quadratic in depth (a hostile `- - - … x` of 5,000 levels took seconds).
 */
function anchorsOf(doc: YamlDocument): Anchors {
  const known = anchorsByDocument.get(doc);
  if (known) return known;
  const yaml = yamlLibrary();
  const anchors: Anchors = { targets: new Map(), merges: [] };
  const latest = new Map<string, Node>();
  const stack: unknown[] = [doc.contents];
  while (stack.length > 0) {
    const node = stack.pop();
    if (yaml.isPair(node)) {
      if (isMergeKey(node.key)) anchors.merges.push(node as Pair);
      stack.push(node.value, node.key);
      continue;
    }
    if (yaml.isAlias(node)) {
      const target = latest.get(node.source);
      if (target) anchors.targets.set(node, target);
      continue;
    }
    if (!yaml.isNode(node)) continue;
    if (node.anchor) latest.set(node.anchor, node);
    if (yaml.isCollection(node)) for (let i = node.items.length - 1; i >= 0; i--) stack.push(node.items[i]);
  }
  anchorsByDocument.set(doc, anchors);
  return anchors;
}

/** The node an alias stands for (itself when its anchor is not set before it); any other node as it is. */
export function resolveNode(node: unknown, doc: YamlDocument): unknown {
  return yamlLibrary().isAlias(node) ? (anchorsOf(doc).targets.get(node) ?? node) : node;
}

/** The mappings a merge key's value brings in, first one first: a mapping, an alias of one, or a list of them. */
function mergeSources(value: unknown, doc: YamlDocument): unknown[] {
  const resolved = resolveNode(value, doc);
  return yamlLibrary().isSeq(resolved) ? resolved.items.map((item) => resolveNode(item, doc)) : [resolved];
}

/**
 * The pair that gives `map` its `key`, as merge keys resolve it: a key the mapping writes
 * wins over a merged one, and an earlier merge source over a later one.
 */
export function mapPair(
  map: YAMLMap,
  key: string,
  doc: YamlDocument,
  seen = new Set<unknown>(),
): Pair | null {
  const yaml = yamlLibrary();
  seen.add(map);
  const own = map.items.find((pair) => !isMergeKey(pair.key) && keyText(pair.key) === key);
  if (own) return own;
  for (const pair of map.items) {
    if (!isMergeKey(pair.key)) continue;
    for (const source of mergeSources(pair.value, doc)) {
      if (!yaml.isMap(source) || seen.has(source)) continue;
      const found = mapPair(source, key, doc, seen);
      if (found) return found;
    }
  }
  return null;
}

/**
 * Refuses what the library would fail on without a place (a merge of something other than
 * a mapping, an alias without its anchor, a mapping merged into itself), and a document
 * whose merges copy more than MAX_MERGED_VALUES values: each merge copies every value of
 * its mappings, and again every value that the merges in them copy.
 */
function checkMerges(doc: YamlDocument): void {
  const yaml = yamlLibrary();
  const sizes = new Map<unknown, number>();
  const open = new Set<unknown>();
  const mergedMaps = (pair: Pair): YAMLMap[] => {
    const offset = (pair.key as Node).range?.[0] ?? 0;
    return mergeSources(pair.value, doc).map((source) => {
      if (yaml.isAlias(source))
        throw new MergeKeyError(
          `the alias *${source.source} has no anchor &${source.source} before it`,
          `anchor the mapping to merge (\`name: &${source.source} {…}\`) above the merge key`,
          offset,
        );
      if (!yaml.isMap(source))
        throw new MergeKeyError(
          "a merge key (`<<`) takes a mapping, an alias of one, or a list of them",
          "e.g. `<<: *defaults`, with `defaults: &defaults {max_retries: 2}` above it",
          offset,
        );
      if (open.has(source))
        throw new MergeKeyError(
          "a mapping merges itself (`<<`)",
          "merge another mapping than the one the merge key sits in",
          offset,
        );
      return source;
    });
  };
  const sizeOf = (node: unknown): number => {
    if (!yaml.isCollection(node)) return 1;
    const known = sizes.get(node);
    if (known !== undefined) return known;
    open.add(node);
    let size = 1;
    for (const item of node.items) {
      if (!yaml.isPair(item)) size += sizeOf(item);
      else if (!isMergeKey(item.key)) size += sizeOf(item.key) + sizeOf(item.value);
      else for (const source of mergedMaps(item)) size += sizeOf(source);
      if (size > MAX_MERGED_VALUES) break;
    }
    open.delete(node);
    sizes.set(node, size);
    return size;
  };
  let copied = 0;
  for (const pair of anchorsOf(doc).merges) {
    for (const source of mergedMaps(pair)) copied += sizeOf(source);
    if (copied > MAX_MERGED_VALUES) break;
  }
  if (copied > MAX_MERGED_VALUES)
    throw new MergeKeyError(
      `merge keys (\`<<\`) copy more than ${MAX_MERGED_VALUES} values`,
      "merge fewer or smaller mappings, or write the jobs out",
      (doc.contents as Node | null)?.range?.[0] ?? 0,
    );
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

function keepJobFieldText(yaml: YamlLibrary, doc: YamlDocument): void {
  const keepNumberText = (node: unknown) => {
    if (yaml.isScalar(node) && typeof node.value === "number" && typeof node.source === "string")
      node.value = node.source;
  };
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
      if (key === "id") keepNumberText(pair.value);
      if (key === "env" && yaml.isMap(pair.value))
        for (const entry of pair.value.items) keepNumberText(entry.value);
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
