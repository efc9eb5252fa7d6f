/**
 * YAML's anchors, aliases and merge keys (`<<: *defaults`), and the library that reads them.
 * A document's value is built here only after its aliases are known to end: each alias
 * expands within a cap, each merge copies within a cap, and no alias sits inside the node it
 * repeats (`&c {A: *c}` would read as a value that contains itself, which no job field can
 * hold and every later walk of the value would follow forever).
 */

import type * as YamlModule from "yaml";
import type { Alias, Node, Pair, YAMLMap } from "yaml";

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

/**
 * A document's value; throws a YamlAliasError when it expands more aliases or merges than a
 * job could need, when an alias has no anchor before it, or when an alias sits inside the
 * node it stands for.
 */
export function documentValue(doc: YamlDocument): unknown {
  const anchors = anchorsOf(doc);
  // First, so that an unanchored alias after `<<` gets the merge key's own hint.
  if (anchors.merges.length > 0) checkMerges(doc);
  const [unanchored] = anchors.unanchored;
  // The library says so too, but without the place, and only in its own words.
  if (unanchored)
    throw new YamlAliasError(
      `the alias *${unanchored.source} has no anchor &${unanchored.source} before it`,
      `set the anchor on a value above (\`name: &${unanchored.source} value\`) before using \`*${unanchored.source}\`, or write the value out`,
      unanchored.range?.[0] ?? 0,
    );
  const [inside] = anchors.insideTheirAnchor;
  if (inside)
    throw new YamlAliasError(
      `the alias *${inside.source} sits inside the value anchored &${inside.source}, which would contain itself`,
      `an alias repeats a value finished before it: write this part out, or anchor a smaller value above`,
      inside.range?.[0] ?? 0,
    );
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    // The library's cap, reached only while copying: it does not say which alias reached it.
    if (!(error instanceof ReferenceError && error.message.startsWith("Excessive alias count"))) throw error;
    throw new YamlAliasError(
      `the YAML aliases expand to more than ${MAX_ALIAS_COUNT} copies`,
      "write the jobs out without so many YAML aliases",
      (doc.contents as Node | null)?.range?.[0] ?? 0,
    );
  }
}

/** Thrown for an alias or merge key the document cannot be read with; `offset` is where it is written. */
export class YamlAliasError extends Error {
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
  /** Aliases written inside the node they stand for, first one first. */
  insideTheirAnchor: Alias[];
  /** Aliases with no anchor of their name before them, first one first. */
  unanchored: Alias[];
}

/** Marks in anchorsOf's walk where a collection's items end. */
class Closing {
  constructor(readonly collection: unknown) {}
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
  const anchors: Anchors = { targets: new Map(), merges: [], insideTheirAnchor: [], unanchored: [] };
  const latest = new Map<string, Node>();
  // The collections the walk is inside of: each is pushed with a marker that closes it.
  const open = new Set<unknown>();
  const stack: unknown[] = [doc.contents];
  while (stack.length > 0) {
    const node = stack.pop();
    if (node instanceof Closing) {
      open.delete(node.collection);
      continue;
    }
    if (yaml.isPair(node)) {
      if (isMergeKey(node.key)) anchors.merges.push(node as Pair);
      stack.push(node.value, node.key);
      continue;
    }
    if (yaml.isAlias(node)) {
      const target = latest.get(node.source);
      if (target) anchors.targets.set(node, target);
      else anchors.unanchored.push(node);
      if (open.has(target)) anchors.insideTheirAnchor.push(node);
      continue;
    }
    if (!yaml.isNode(node)) continue;
    if (node.anchor) latest.set(node.anchor, node);
    if (!yaml.isCollection(node)) continue;
    open.add(node);
    stack.push(new Closing(node));
    for (let i = node.items.length - 1; i >= 0; i--) stack.push(node.items[i]);
  }
  anchorsByDocument.set(doc, anchors);
  return anchors;
}

/** The node an alias stands for (itself when its anchor is not set before it); any other node as it is. */
export function resolveNode(node: unknown, doc: YamlDocument): unknown {
  return yamlLibrary().isAlias(node) ? (anchorsOf(doc).targets.get(node) ?? node) : node;
}

/** The mappings a merge key's value brings in, first one first: a mapping, an alias of one, or a list of them. */
export function mergeSources(value: unknown, doc: YamlDocument): unknown[] {
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
        throw new YamlAliasError(
          `the alias *${source.source} has no anchor &${source.source} before it`,
          `anchor the mapping to merge (\`name: &${source.source} {…}\`) above the merge key`,
          offset,
        );
      if (!yaml.isMap(source))
        throw new YamlAliasError(
          "a merge key (`<<`) takes a mapping, an alias of one, or a list of them",
          "e.g. `<<: *defaults`, with `defaults: &defaults {max_retries: 2}` above it",
          offset,
        );
      if (open.has(source))
        throw new YamlAliasError(
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
    throw new YamlAliasError(
      `merge keys (\`<<\`) copy more than ${MAX_MERGED_VALUES} values`,
      "merge fewer or smaller mappings, or write the jobs out",
      (doc.contents as Node | null)?.range?.[0] ?? 0,
    );
}
