/**
 * A spec's revision: the first 16 hex digits of the SHA-256 of its canonical JSON (keys
 * sorted, so neither formatting nor key order changes it). Jobfile sync compares revisions
 * to tell a changed job from one already run, and stores written by every release hold
 * them, so the text hashed must stay byte for byte what it always was.
 */

import { type JobSpec, SPEC_FIELDS } from "./spec-fields.ts";

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A canonical JSON form: sorted keys, so formatting and key order never change the revision. */
export function canonicalJson(value: unknown): string {
  // Loops rather than map/filter/join: a bulk enqueue computes this for every job, and the
  // intermediate arrays cost it half its time. The text must stay byte for byte the same.
  if (Array.isArray(value)) {
    let text = "[";
    for (let index = 0; index < value.length; index++) {
      if (index > 0) text += ",";
      text += canonicalJson(value[index]) ?? "";
    }
    return `${text}]`;
  }
  if (isPlainObject(value)) {
    let text = "{";
    for (const key of Object.keys(value).sort()) {
      if (value[key] === undefined) continue;
      if (text.length > 1) text += ",";
      text += `${JSON.stringify(key)}:${canonicalJson(value[key])}`;
    }
    return `${text}}`;
  }
  return JSON.stringify(value);
}

/** What JSON.stringify escapes in a string: quotes, backslashes, control characters, lone surrogates. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what JSON escapes
const JSON_ESCAPED = /["\\\u0000-\u001f\ud800-\udfff]/;

/**
 * JSON.stringify of a string, byte for byte. Nearly every id and command needs no escape,
 * and quoting those directly costs about half as much: a bulk enqueue does it twice a job.
 * Any surrogate goes to JSON.stringify, which knows a pair from a lone one.
 */
function jsonString(text: string): string {
  return JSON_ESCAPED.test(text) ? JSON.stringify(text) : `"${text}"`;
}

/** Each spec field's bit: the fields a spec holds make one number, its shape. */
const FIELD_BITS = new Map<string, number>(SPEC_FIELDS.map((key, index) => [key, 2 ** index]));

/** Per shape, its fields in canonicalJson's order (sorted), each with its key already written out. */
const SORTED_FIELDS_OF_SHAPE = new Map<number, (readonly [string, string])[]>();

function sortedFieldsOf(shape: number): (readonly [string, string])[] {
  let fields = SORTED_FIELDS_OF_SHAPE.get(shape);
  if (fields === undefined) {
    fields = [...SPEC_FIELDS]
      .filter((key) => ((shape / (FIELD_BITS.get(key) as number)) & 1) === 1)
      .sort()
      .map((key) => [key, `${JSON.stringify(key)}:`] as const);
    SORTED_FIELDS_OF_SHAPE.set(shape, fields);
  }
  return fields;
}

/**
 * canonicalJson of a spec, byte for byte, without sorting its keys: a bulk enqueue computes it
 * for every job, and the sort and the quoting of each key were most of its cost; the specs of
 * one input nearly all hold the same fields, so their sorted order is worked out once per set.
 * A spec with a key outside SPEC_FIELDS (none comes from normalizeSpec) takes the general form.
 */
function specCanonicalJson(spec: JobSpec): string {
  const fields = spec as unknown as Record<string, unknown>;
  let shape = 0;
  for (const key in fields) {
    const bit = FIELD_BITS.get(key);
    if (bit === undefined) return canonicalJson(spec);
    shape += bit;
  }
  let text = "{";
  for (const [key, prefix] of sortedFieldsOf(shape)) {
    const value = fields[key];
    if (value === undefined) continue;
    if (text.length > 1) text += ",";
    text += prefix + (typeof value === "string" ? jsonString(value) : canonicalJson(value));
  }
  return `${text}}`;
}

/** The first bytes of a revision's hash: one buffer for every job. */
const REVISION_HASH = new Uint8Array(32);
const REVISION_BYTES = REVISION_HASH.subarray(0, 8);

/** The revision: a short hash of the canonical spec, the first 16 hex digits of its SHA-256. */
export function specRevision(spec: JobSpec): string {
  // The one-shot SHA-256 of Bun.SHA256 into one buffer: a hasher object per job, or a hex
  // string of all 64 digits per job, cost a bulk enqueue more than the hashing itself. A
  // table of the 256 bytes' digits, built at load, cost every one-job enqueue 0.2 ms.
  Bun.SHA256.hash(specCanonicalJson(spec), REVISION_HASH);
  return REVISION_BYTES.toHex();
}
