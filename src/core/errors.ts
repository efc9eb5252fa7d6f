/**
 * The one error type users are meant to see. The CLI boundary prints it as a single
 * `error: <message> — <hint>` line and exits with `exitCode`, never with a stack.
 *
 * Exit codes: 2 = bad usage or bad input (nothing was changed), 1 = runtime failure
 * (the store is unreachable, corrupt, locked, …).
 */
export class UserError extends Error {
  readonly hint: string;
  /** 2 or 1 as above; 128 + a signal's number for a command a signal cut short (InterruptedError). */
  readonly exitCode: number;

  constructor(message: string, hint = "", exitCode = 2) {
    // Messages echo user input; escaping here keeps every error on one line and keeps
    // terminal control sequences in that input from reaching the user's terminal.
    super(oneLine(message));
    this.name = "UserError";
    this.hint = oneLine(hint);
    this.exitCode = exitCode;
  }
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what gets escaped
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/** `text` on one line: control characters (a key with a CR in it, say) written as escapes. */
export function oneLine(text: string): string {
  return text.replace(CONTROL_CHARACTERS, (ch) =>
    ch === "\n" ? "\\n" : `\\x${ch.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}

/**
 * A command a signal cut short, once it has undone what it had begun (`worker start` stops
 * the workers it launched): exits 128 + the signal's number, as a shell reports a signalled
 * command, so a script sees the interruption rather than a failure of the command's own.
 */
export class InterruptedError extends UserError {
  override readonly exitCode: number;

  constructor(message: string, hint: string, signalNumber: number) {
    super(message, hint, 1);
    this.name = "InterruptedError";
    this.exitCode = 128 + signalNumber;
  }
}

/**
 * The store cannot be reached for now: PostgreSQL down or restarting, a connection dropped
 * or terminated. Commands that wait on jobs wait it out (flow/patient-reads.ts); others
 * report it as any runtime failure.
 */
export class StoreUnreachableError extends UserError {
  constructor(message: string, hint: string) {
    super(message, hint, 1);
    this.name = "StoreUnreachableError";
  }
}

/**
 * The store a long-running process opened is gone (its database file deleted or replaced).
 * Nothing it writes from now on would be seen, so it stops instead of carrying on unseen.
 */
export class StoreGoneError extends UserError {
  constructor(message: string, hint: string) {
    super(message, hint, 1);
    this.name = "StoreGoneError";
  }
}

/** A job id the store already holds; `id` lets a bulk input name the line that repeats it. */
export class DuplicateIdError extends UserError {
  constructor(
    readonly id: string,
    message: string,
    hint: string,
  ) {
    super(message, hint);
    this.name = "DuplicateIdError";
  }
}

/** A failure of the environment rather than the input: exit code 1. */
export function runtimeError(message: string, hint = ""): UserError {
  return new UserError(message, hint, 1);
}

/**
 * A word as a command in a hint writes it, safe to paste into sh, bash, zsh and fish: paths
 * and arguments can hold spaces, quotes and `$`.
 */
export function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`;
}

/**
 * Optimal string alignment distance (Levenshtein plus swapping two neighbouring letters as
 * one edit), small and allocation-light; only used for "did you mean" hints. Swapped letters
 * are the commonest typo (`lsit`, `shwo`, `dql`), and plain Levenshtein counts each as two.
 */
export function editDistance(a: string, b: string): number {
  let beforePrevious: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, (beforePrevious[j - 2] ?? 0) + 1);
      }
      current[j] = best;
    }
    beforePrevious = previous;
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The closest known name, when it is close enough to be a plausible typo. */
export function nearestName(input: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  const normalized = input.toLowerCase().replaceAll("-", "_");
  for (const name of known) {
    const distance = editDistance(normalized, name.toLowerCase().replaceAll("-", "_"));
    // About one typo per three letters of the longer word: `max_retry` finds `max_retries`,
    // `emial` finds `emails` (a swap and a dropped letter), `bad` finds nothing.
    const allowed = Math.max(1, Math.floor(Math.max(input.length, name.length) / 3));
    if (distance <= allowed && distance < bestDistance) {
      bestDistance = distance;
      best = name;
    }
  }
  return best;
}

/** "did you mean `x`?" or a list of the valid choices when nothing is close. */
export function suggestion(input: string, known: readonly string[]): string {
  const nearest = nearestName(input, known);
  return nearest ? `did you mean \`${nearest}\`?` : `valid names: ${known.join(", ")}`;
}

/**
 * A key as a message names it. YAML reads `~:`, `null:` and a bare `?` as a key with no
 * name, which becomes the empty key "" (as JSON's `"":` is); quoted, that said "``".
 */
export function keyInMessage(key: string): string {
  return key === "" ? "a key with no name (empty, `~` or `null`)" : `\`${key}\``;
}

/** A spec error that knows which field broke which rule; jobfiles add the file position. */
export class SpecError extends UserError {
  readonly field: string | undefined;
  constructor(message: string, hint: string, field?: string) {
    super(message, hint, 2);
    this.field = field;
  }
}
