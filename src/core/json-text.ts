/**
 * What JSON.parse does not tell: where a text stops being JSON, which key an object
 * repeats, which number it cannot keep, and where a value holds half a surrogate pair. For enqueue input and jobfiles alike.
 */

import { MAX_FLOW_NESTING } from "./nesting-depth.ts";

/**
 * JSON.parse keeps the last of two equal keys without a word, so `{"id":"a","id":"b"}`
 * would quietly enqueue job b. This finds the first repeated key so the input can be
 * refused instead, as YAML input already is.
 */
export function findDuplicateJsonKey(text: string): string | undefined {
  const keyStack: Set<string>[] = [];
  const isObject: boolean[] = [];
  let expectingKey = false;
  let index = 0;
  while (index < text.length) {
    const ch = text[index];
    if (ch === '"') {
      const end = stringEnd(text, index);
      if (expectingKey && isObject[isObject.length - 1]) {
        const key = JSON.parse(text.slice(index, end + 1)) as string;
        const keys = keyStack[keyStack.length - 1];
        if (keys?.has(key)) return key;
        keys?.add(key);
        expectingKey = false;
      }
      index = end + 1;
      continue;
    }
    if (ch === "{") {
      keyStack.push(new Set());
      isObject.push(true);
      expectingKey = true;
    } else if (ch === "[") {
      keyStack.push(new Set());
      isObject.push(false);
    } else if (ch === "}" || ch === "]") {
      keyStack.pop();
      isObject.pop();
    } else if (ch === ",") {
      expectingKey = isObject[isObject.length - 1] === true;
    }
    index++;
  }
  return undefined;
}

const JSON_NUMBER = /-?\d+(\.\d+)?([eE][+-]?\d+)?/y;

/** A number's significant digits, without sign, point, exponent or the zeros around them. */
function significantDigits(number: string): string {
  const mantissa = number
    .replace(/^-/, "")
    .replace(/[eE].*$/, "")
    .replace(".", "");
  return mantissa.replace(/^0+/, "").replace(/0+$/, "") || "0";
}

/**
 * The first number of JSON `text` whose digits a double cannot keep (`12345678901234567890`,
 * `0.1000000000000000000001`, `1e400`): JSON.parse reads it as another number. Trailing
 * zeros and the way it is written (`1.0`, `1e3`) do not count.
 */
export function findInexactJsonNumber(text: string): string | undefined {
  let index = 0;
  while (index < text.length) {
    const ch = text[index] as string;
    if (ch === '"') {
      index = stringEnd(text, index) + 1;
      continue;
    }
    if (ch === "-" || (ch >= "0" && ch <= "9")) {
      JSON_NUMBER.lastIndex = index;
      const number = JSON_NUMBER.exec(text)?.[0];
      if (number === undefined) return undefined;
      if (significantDigits(number) !== significantDigits(String(Number(number)))) return number;
      index += number.length;
      continue;
    }
    index++;
  }
  return undefined;
}

/** Index of the closing quote of the string that opens at `start`. */
function stringEnd(text: string, start: number): number {
  let index = start + 1;
  while (index < text.length) {
    const ch = text[index];
    if (ch === "\\") index += 2;
    else if (ch === '"') return index;
    else index++;
  }
  return text.length - 1;
}

class Stop {
  constructor(readonly offset: number) {}
}

/**
 * The offset of the first syntax error, or null when `text` is valid JSON. Bun's JSON.parse
 * reports what went wrong but not where, and every jobfile error must carry a line and
 * column, so this walks the grammar (RFC 8259) just far enough to find the offending character.
 */
export function jsonErrorOffset(text: string): number | null {
  let at = 0;
  const fail = (): never => {
    throw new Stop(at);
  };
  const skipSpace = () => {
    while (at < text.length && " \t\n\r".includes(text.charAt(at))) at++;
  };
  const expect = (word: string) => {
    for (const ch of word) {
      if (text.charAt(at) !== ch) fail();
      at++;
    }
  };
  const string = () => {
    expect('"');
    while (at < text.length) {
      const ch = text.charAt(at);
      if (ch === '"') {
        at++;
        return;
      }
      if (ch < " ") fail();
      if (ch === "\\") {
        at++;
        const escaped = text.charAt(at);
        if (escaped === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(at + 1, at + 5))) fail();
          at += 5;
        } else if (escaped !== "" && '"\\/bfnrt'.includes(escaped)) at++;
        else fail();
      } else at++;
    }
    fail();
  };
  const number = () => {
    const match = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(at));
    if (!match || match[0] === "" || match[0] === "-") fail();
    at += (match as RegExpExecArray)[0].length;
  };
  const sequence = (close: string, item: () => void) => {
    at++;
    skipSpace();
    if (text.charAt(at) === close) {
      at++;
      return;
    }
    for (;;) {
      item();
      skipSpace();
      if (text.charAt(at) !== ",") break;
      at++;
    }
    expect(close);
  };
  const value = (depth: number): void => {
    if (depth > MAX_FLOW_NESTING) fail();
    skipSpace();
    const ch = text.charAt(at);
    if (ch === "{") {
      sequence("}", () => {
        skipSpace();
        string();
        skipSpace();
        expect(":");
        value(depth + 1);
      });
    } else if (ch === "[") sequence("]", () => value(depth + 1));
    else if (ch === '"') string();
    else if (ch === "t") expect("true");
    else if (ch === "f") expect("false");
    else if (ch === "n") expect("null");
    else number();
  };
  try {
    value(0);
    skipSpace();
    if (at < text.length) fail();
    return null;
  } catch (error) {
    if (error instanceof Stop) return error.offset;
    throw error;
  }
}

/** Half of a surrogate pair without its other half: JSON lets `\ud800` through, UTF-8 cannot hold it. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Whether any string or key in `value` holds a lone surrogate: one native check per string.
 * Walked with a list rather than by recursion, so that JSON nested deeper than a thread's
 * stack reaches the check that refuses it, whichever thread prepares it.
 */
function holdsLoneSurrogate(value: unknown): boolean {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const next = pending.pop();
    if (typeof next === "string") {
      if (!next.isWellFormed()) return true;
    } else if (Array.isArray(next)) {
      for (const item of next) pending.push(item);
    } else if (typeof next === "object" && next !== null) {
      for (const key in next) {
        if (!key.isWellFormed()) return true;
        pending.push((next as Record<string, unknown>)[key]);
      }
    }
  }
  return false;
}

/**
 * Where in `value` a string or key holds a lone surrogate, as `.env.NAME` or `.tags[0]`, or
 * null. Refused for every store alike: PostgreSQL's JSON refuses it, SQLite would keep it.
 * Every job passes through here, so the usual answer (none at all) takes one cheap walk.
 */
export function loneSurrogateAt(value: unknown, path: string): string | null {
  return holdsLoneSurrogate(value) ? lonePairHalfAt(value, path) : null;
}

function lonePairHalfAt(value: unknown, path: string): string | null {
  if (typeof value === "string") return LONE_SURROGATE.test(value) ? path : null;
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const found = lonePairHalfAt(item, `${path}[${index}]`);
      if (found !== null) return found;
    }
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  for (const [key, item] of Object.entries(value)) {
    // A key that holds one is named by its place, without the character that cannot be shown.
    if (LONE_SURROGATE.test(key)) return `${path}.${key.replace(LONE_SURROGATE, "?")}`;
    const found = lonePairHalfAt(item, `${path}.${key}`);
    if (found !== null) return found;
  }
  return null;
}

/** Whether `line` is one whole JSON object: what an NDJSON line holds. */
export function isJsonObjectLine(line: string): boolean {
  try {
    const value = JSON.parse(line);
    return typeof value === "object" && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}

/** Whether `text` is NDJSON (two or more JSON objects, one per line), which is no JSON document. */
export function isNdjsonText(text: string): boolean {
  const lines = text.split("\n").filter((line) => line.trim() !== "");
  return lines.length > 1 && lines.every(isJsonObjectLine);
}

/** The most a job's result (QUEUECTL_RESULT) may hold, white space around it not counted. */
export const RESULT_CAP_BYTES = 64 * 1024;

export function overResultCap(bytes: number): string {
  return `has ${bytes} bytes, over the ${RESULT_CAP_BYTES / 1024} KiB cap`;
}

/**
 * Why `text` cannot be stored as a job's result, or null when it can: the one rule for what a
 * worker stores and what `import` takes back. A result is kept as written and handed to
 * dependents as written, while `show --json` parses it, so JSON that parses to something else
 * (a key given twice, a number past what a double holds) would read one way there and
 * another everywhere else.
 */
export function resultTextProblem(text: string): string | null {
  const bytes = Buffer.byteLength(text);
  if (bytes > RESULT_CAP_BYTES) return overResultCap(bytes);
  try {
    JSON.parse(text);
  } catch (error) {
    return `is not JSON (${(error as Error).message})`;
  }
  const repeated = findDuplicateJsonKey(text);
  if (repeated !== undefined) return `gives the key "${repeated}" twice`;
  const inexact = findInexactJsonNumber(text);
  if (inexact !== undefined)
    return `holds the number ${inexact.slice(0, 40)}, which a double cannot keep exactly (write it as a string)`;
  return null;
}
