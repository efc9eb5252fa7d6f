/**
 * Text nested deeper than a parser's stack can follow. The YAML library reports running out
 * of stack as an error at wherever the stack happened to end, which depends on the thread
 * and on how deep the caller already was: one file gave two errors a column apart, and
 * another place on the next read. Such errors are said once, at a place that depends only
 * on the text: the bracket that opens the level past `MAX_FLOW_NESTING`.
 */

/** A parser's problem with its place; yaml-text.ts's YamlProblem is one. */
interface PlacedProblem {
  offset: number;
  line: number;
  column: number;
  message: string;
}

/** How deep `[` and `{` may nest before a place is named for it; JSON's error finder (json-text.ts) stops there too. */
export const MAX_FLOW_NESTING = 512;

const STACK_OVERFLOW = /maximum call stack size exceeded/i;

/** What a text that ran a parser out of stack is told, wherever that happened. */
export const NESTED_TOO_DEEPLY = `nested too deeply: more than ${MAX_FLOW_NESTING} levels of lists or mappings`;

export function isStackOverflow(message: string): boolean {
  return STACK_OVERFLOW.test(message);
}

/**
 * The offset of the `[` or `{` that opens level MAX_FLOW_NESTING + 1, outside quoted text
 * and `#` comments; null when nothing nests that deep (the depth is then in indentation).
 * With `quotes` false every bracket counts: a quote inside a plain scalar (`don't`) would
 * otherwise hide the rest of the text.
 */
function deepNestingOffset(text: string, quotes = true): number | null {
  let depth = 0;
  for (let at = 0; at < text.length; at++) {
    const ch = text.charCodeAt(at);
    if (quotes && ch === 0x22 /* " */) {
      for (at++; at < text.length && text.charCodeAt(at) !== 0x22; at++)
        if (text.charCodeAt(at) === 0x5c) at++;
    } else if (quotes && ch === 0x27 /* ' */) {
      // YAML writes a quote inside single quotes as two.
      for (at++; at < text.length; at++) {
        if (text.charCodeAt(at) !== 0x27) continue;
        if (text.charCodeAt(at + 1) !== 0x27) break;
        at++;
      }
    } else if (quotes && ch === 0x23 /* # */ && (at === 0 || /\s/.test(text.charAt(at - 1)))) {
      while (at < text.length && text.charCodeAt(at) !== 0x0a) at++;
    } else if (ch === 0x5b || ch === 0x7b) {
      depth++;
      if (depth > MAX_FLOW_NESTING) return at;
    } else if ((ch === 0x5d || ch === 0x7d) && depth > 0) depth--;
  }
  return null;
}

/** Running out of stack is said once, at a place that depends only on the text (nesting-depth.ts). */
export function withOneStackOverflow(
  errors: PlacedProblem[],
  text: string,
  place: (offset: number) => { line: number; column: number },
): PlacedProblem[] {
  const overflows = errors.filter((error) => isStackOverflow(error.message));
  if (overflows.length === 0) return errors;
  const offset =
    deepNestingOffset(text) ??
    deepNestingOffset(text, false) ??
    Math.min(...overflows.map((error) => error.offset));
  const message = NESTED_TOO_DEEPLY;
  return [
    ...errors.filter((error) => !isStackOverflow(error.message)),
    { offset, ...place(offset), message },
  ];
}
