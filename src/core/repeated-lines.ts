/**
 * Folding a line that repeats: a worker whose store is out of reach fails the same way in
 * every service, every second (rescue, schedules, heartbeat, webhooks), and a log of
 * hundreds of identical lines a minute buries the line that says what happened. The first
 * of a kind is written at once; the same line again within the window is counted, not
 * written; when the window closes with repeats counted, the line is written once more with
 * their count, and a new window begins. So a failure that goes on shows once a window, and
 * nothing is hidden for longer than one: a second outage inside the window of the first is
 * still told, when that window closes.
 */

/** How long the same line stays folded after it was written (default 60 s). */
export const REPEAT_WINDOW_MS = 60_000;

/** The most distinct lines remembered: a worker's failures are a handful of kinds. */
const REMEMBERED_LINES = 100;

interface Written {
  at: number;
  folded: number;
  /** Cancels the timer that closes the window, set once a repeat was counted. */
  cancel: (() => void) | null;
}

export interface RepeatedLinesOptions {
  /** Default REPEAT_WINDOW_MS. */
  windowMs?: number;
  /** Default Date.now. */
  now?: () => number;
  /** Runs `run` after `ms`; returns what cancels it. Default: an unref'd setTimeout, which keeps no process alive. */
  later?: (run: () => void, ms: number) => () => void;
}

/** "line (3 more times in the last 60s)". */
function withRepeats(line: string, folded: number, when: string): string {
  return `${line} (${folded} more time${folded === 1 ? "" : "s"}${when})`;
}

function unrefTimer(run: () => void, ms: number): () => void {
  const timer = setTimeout(run, ms);
  timer.unref?.();
  return () => clearTimeout(timer);
}

export class RepeatedLines {
  private readonly written = new Map<string, Written>();
  private readonly windowMs: number;
  private readonly now: () => number;
  private readonly later: (run: () => void, ms: number) => () => void;

  /** `write` gets every line to show, as it should be shown. */
  constructor(
    private readonly write: (line: string) => void,
    options: RepeatedLinesOptions = {},
  ) {
    this.windowMs = options.windowMs ?? REPEAT_WINDOW_MS;
    this.now = options.now ?? Date.now;
    this.later = options.later ?? unrefTimer;
  }

  /** Writes `line`, or counts it while the same line's window is open. */
  print(line: string): void {
    const now = this.now();
    const seen = this.written.get(line);
    if (seen && now - seen.at < this.windowMs) {
      seen.folded += 1;
      seen.cancel ??= this.later(() => this.close(line), seen.at + this.windowMs - now);
      return;
    }
    this.write(line);
    this.remember(line, now);
  }

  /** The window of `line` closes: its repeats are told, and a new window begins from now. */
  private close(line: string): void {
    const seen = this.written.get(line);
    if (!seen || seen.folded === 0) return;
    const now = this.now();
    this.write(withRepeats(line, seen.folded, ` in the last ${Math.round((now - seen.at) / 1000)}s`));
    this.remember(line, now);
  }

  private remember(line: string, now: number): void {
    this.written.get(line)?.cancel?.();
    this.written.delete(line);
    this.written.set(line, { at: now, folded: 0, cancel: null });
    // Maps keep insertion order: the oldest goes first, its count told if it has one.
    if (this.written.size > REMEMBERED_LINES) {
      const oldest = this.written.keys().next().value as string;
      const dropped = this.written.get(oldest);
      dropped?.cancel?.();
      if (dropped && dropped.folded > 0) this.write(withRepeats(oldest, dropped.folded, ""));
      this.written.delete(oldest);
    }
  }
}
