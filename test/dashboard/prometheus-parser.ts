/**
 * A strict parser for the Prometheus text exposition format (0.0.4), stricter than
 * Prometheus itself so the test fails on anything a scraper might only tolerate:
 *
 * - every line is a `# HELP`, a `# TYPE`, another `#` comment, or `name{labels} value`;
 *   the text ends with a newline and has no blank lines;
 * - every sample belongs to a family that has exactly one HELP and one TYPE, both before
 *   its first sample, and a family's samples are contiguous;
 * - no series appears twice (label order does not make a new series); counters are never
 *   negative; every sample of a family has the same label names (`le` aside), so a
 *   `sum()` over a label never mixes per-queue series with a total;
 * - each histogram has `_bucket` lines with ascending `le`, cumulative counts, a last
 *   `le="+Inf"` bucket equal to `_count`, and a `_sum`.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: "counter" | "gauge" | "histogram" | "summary" | "untyped";
  help: string;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);
const HISTOGRAM_SUFFIXES = ["_bucket", "_sum", "_count"];

function parseValue(text: string, where: string): number {
  if (text === "+Inf") return Number.POSITIVE_INFINITY;
  if (text === "-Inf") return Number.NEGATIVE_INFINITY;
  if (text === "NaN") return Number.NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`${where}: bad value "${text}"`);
  return Number(text);
}

/** Parses `{a="x",b="y"}` from `text` at `start` (just after the `{`); returns the labels and the index past `}`. */
function parseLabels(text: string, start: number, where: string): [Record<string, string>, number] {
  const labels: Record<string, string> = {};
  let i = start;
  while (text[i] !== "}") {
    const nameMatch = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(text.slice(i));
    if (!nameMatch) throw new Error(`${where}: bad label name at column ${i + 1}`);
    const name = nameMatch[0];
    if (!LABEL_NAME.test(name) || name in labels)
      throw new Error(`${where}: bad or repeated label "${name}"`);
    i += name.length;
    if (text.slice(i, i + 2) !== '="') throw new Error(`${where}: expected ="…" after label ${name}`);
    i += 2;
    let value = "";
    while (text[i] !== '"') {
      if (i >= text.length) throw new Error(`${where}: unterminated label value`);
      if (text[i] === "\\") {
        const escaped = text[i + 1];
        if (escaped === "\\" || escaped === '"') value += escaped;
        else if (escaped === "n") value += "\n";
        else throw new Error(`${where}: bad escape \\${escaped}`);
        i += 2;
      } else value += text[i++];
    }
    labels[name] = value;
    i++;
    if (text[i] === ",") i++;
    else if (text[i] !== "}") throw new Error(`${where}: expected , or } after label ${name}`);
  }
  return [labels, i + 1];
}

function familyOf(sampleName: string, families: Map<string, Family>): Family | undefined {
  const exact = families.get(sampleName);
  if (exact && exact.type !== "histogram") return exact;
  for (const suffix of HISTOGRAM_SUFFIXES) {
    if (!sampleName.endsWith(suffix)) continue;
    const family = families.get(sampleName.slice(0, -suffix.length));
    if (family?.type === "histogram") return family;
  }
  return undefined;
}

function seriesKey(sample: Sample, without?: string): string {
  const pairs = Object.entries(sample.labels)
    .filter(([name]) => name !== without)
    .sort(([a], [b]) => a.localeCompare(b));
  return JSON.stringify(pairs);
}

/** The label names of a sample, `le` aside, sorted: what must match across a family. */
function labelNames(sample: Sample): string {
  return `{${Object.keys(sample.labels)
    .filter((name) => name !== "le")
    .sort()
    .join(",")}}`;
}

function checkHistogram(family: Family): void {
  const groups = new Map<string, Sample[]>();
  for (const sample of family.samples) {
    const key = seriesKey(sample, "le");
    groups.set(key, [...(groups.get(key) ?? []), sample]);
  }
  for (const [key, samples] of groups) {
    const where = `histogram ${family.name}${key}`;
    const buckets = samples.filter((s) => s.name === `${family.name}_bucket`);
    const count = samples.find((s) => s.name === `${family.name}_count`);
    const sum = samples.find((s) => s.name === `${family.name}_sum`);
    if (!count || !sum) throw new Error(`${where}: needs _sum and _count`);
    if (buckets.length === 0) throw new Error(`${where}: has no buckets`);
    let previousLe = Number.NEGATIVE_INFINITY;
    let previousCount = 0;
    for (const bucket of buckets) {
      if (bucket.labels.le === undefined) throw new Error(`${where}: a bucket has no le label`);
      const le = parseValue(bucket.labels.le, where);
      if (!(le > previousLe)) throw new Error(`${where}: le ${bucket.labels.le} is not above ${previousLe}`);
      if (bucket.value < previousCount)
        throw new Error(`${where}: bucket le=${bucket.labels.le} is not cumulative`);
      previousLe = le;
      previousCount = bucket.value;
    }
    const last = buckets[buckets.length - 1];
    if (last?.labels.le !== "+Inf") throw new Error(`${where}: the last bucket must be le="+Inf"`);
    if (last.value !== count.value)
      throw new Error(`${where}: +Inf bucket ${last.value} ≠ _count ${count.value}`);
  }
}

export function parsePrometheusText(text: string): Map<string, Family> {
  if (!text.endsWith("\n")) throw new Error("the exposition must end with a newline");
  const families = new Map<string, Family>();
  const declared = new Map<string, { help?: string; type?: Family["type"] }>();
  const finished = new Set<string>();
  const series = new Set<string>();
  let current: Family | undefined;
  const lines = text.slice(0, -1).split("\n");
  lines.forEach((line, index) => {
    const where = `line ${index + 1} (${JSON.stringify(line)})`;
    if (line === "") throw new Error(`${where}: blank line`);
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const [, keyword, name = "", rest = ""] = meta;
      if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name`);
      if (families.get(name)?.samples.length || finished.has(name))
        throw new Error(`${where}: after samples`);
      const entry = declared.get(name) ?? {};
      if (keyword === "HELP") {
        if (entry.help !== undefined) throw new Error(`${where}: second HELP for ${name}`);
        entry.help = rest;
      } else {
        if (entry.type !== undefined) throw new Error(`${where}: second TYPE for ${name}`);
        if (!TYPES.has(rest)) throw new Error(`${where}: unknown type "${rest}"`);
        entry.type = rest as Family["type"];
        families.set(name, { name, type: entry.type, help: entry.help ?? "", samples: [] });
      }
      declared.set(name, entry);
      const family = families.get(name);
      if (family && entry.help !== undefined) family.help = entry.help;
      return;
    }
    if (line.startsWith("#")) return;
    const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
    if (!nameMatch) throw new Error(`${where}: neither a comment nor a sample`);
    const name = nameMatch[0];
    let labels: Record<string, string> = {};
    let i = name.length;
    if (line[i] === "{") [labels, i] = parseLabels(line, i + 1, where);
    const parts = line.slice(i).split(" ");
    if (parts[0] !== "" || parts.length < 2 || parts.length > 3)
      throw new Error(`${where}: expected "name{labels} value"`);
    const value = parseValue(parts[1] ?? "", where);
    if (parts[2] !== undefined && !/^-?\d+$/.test(parts[2])) throw new Error(`${where}: bad timestamp`);
    const family = familyOf(name, families);
    if (!family) throw new Error(`${where}: sample of an undeclared family (no TYPE before it)`);
    if (declared.get(family.name)?.help === undefined)
      throw new Error(`${where}: ${family.name} has no HELP`);
    if (current !== family) {
      if (current) finished.add(current.name);
      if (finished.has(family.name)) throw new Error(`${where}: ${family.name} samples are not contiguous`);
      current = family;
    }
    const sample = { name, labels, value };
    const key = `${name}${seriesKey(sample)}`;
    if (series.has(key)) throw new Error(`${where}: duplicate series`);
    series.add(key);
    if (family.type === "counter" && !(value >= 0)) throw new Error(`${where}: a counter must be ≥ 0`);
    const first = family.samples.find((other) => other.name === name);
    if (first && labelNames(first) !== labelNames(sample))
      throw new Error(
        `${where}: inconsistent labels: ${labelNames(sample)} where ${labelNames(first)} came before`,
      );
    family.samples.push(sample);
  });
  for (const family of families.values()) {
    if (declared.get(family.name)?.help === undefined)
      throw new Error(`${family.name} has a TYPE but no HELP`);
    if (family.type === "histogram") checkHistogram(family);
  }
  return families;
}

/** The sum over every series of `name` whose labels include `labels` (what PromQL's sum() gives). */
export function seriesSum(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number {
  let total = 0;
  let found = false;
  for (const family of families.values()) {
    for (const sample of family.samples) {
      if (sample.name !== name) continue;
      if (!Object.entries(labels).every(([key, value]) => sample.labels[key] === value)) continue;
      total += sample.value;
      found = true;
    }
  }
  if (!found) throw new Error(`no series ${name}${JSON.stringify(labels)}`);
  return total;
}

/** The value of one series, failing loudly when it is missing. */
export function seriesValue(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number {
  for (const family of families.values()) {
    for (const sample of family.samples) {
      if (sample.name !== name) continue;
      const same =
        Object.keys(labels).length === Object.keys(sample.labels).length &&
        Object.entries(labels).every(([key, value]) => sample.labels[key] === value);
      if (same) return sample.value;
    }
  }
  throw new Error(`no series ${name}${JSON.stringify(labels)}`);
}
