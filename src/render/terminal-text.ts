/**
 * Text that reaches the user's terminal from ids, commands, errors and job output, which
 * anyone who can queue a job may choose: control characters (ESC, CSI, BEL …) and
 * bidirectional overrides are escaped, so no such text can rewrite the terminal, hide
 * what it shows or reorder it; so are the characters that print as nothing at all (a
 * zero-width space, a word joiner, a stray byte-order mark), so that a file named with one
 * is not shown as another. The zero-width joiners of emoji and scripts that need them stay. Plain lines go through safeText; JSON through printJson,
 * whose escapes keep the JSON's meaning.
 */

const UNSAFE_CHARACTERS =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what must be escaped
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b\u200e\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;

/** Whatever safeText would change, newlines and tabs included. */
const ESCAPED_CHARACTERS =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what must be escaped
  /[\u0000-\u001f\u007f-\u009f\u200b\u200e\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/;

/** Whether safeText(text) is text itself: most ids and messages are, and need no copy. */
export function isSafeText(text: string): boolean {
  return !ESCAPED_CHARACTERS.test(text);
}

/**
 * Escapes control characters (ESC, CSI, BEL …) and bidirectional overrides so ids, commands
 * and job output can never rewrite the user's terminal or reorder what it shows. Newlines
 * and tabs survive only where `multiline` allows.
 */
export function safeText(text: string, multiline = false): string {
  const escaped = text.replace(UNSAFE_CHARACTERS, (ch) => {
    const code = ch.charCodeAt(0);
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u${code.toString(16).padStart(4, "0")}`;
  });
  return multiline ? escaped : escaped.replaceAll("\n", "\\n").replaceAll("\t", " ");
}

// JSON.stringify escapes C0 controls but passes DEL, the C1 range (U+009B is CSI to many
// terminals), line separators and bidi overrides through raw; a \u escape keeps the JSON's meaning.
const JSON_UNSAFE = /[\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

export function printJson(value: unknown): void {
  const text = JSON.stringify(value, null, 2).replace(
    JSON_UNSAFE,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  process.stdout.write(`${text}\n`);
}
