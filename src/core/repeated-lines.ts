/**
 * Folding a line that repeats: a worker whose store is out of reach fails the same way in
 * every service, every second (rescue, schedules, heartbeat, webhooks), and a log of
 * hundreds of identical lines a minute buries the line that says what happened. The first
 * of a kind is printed at once; the same line again within the window is counted, not
 * printed; the first one after the window is printed with that count, so a failure that
 * goes on shows at least once a window and the log still tells how often it came.
 */

/** How long the same line stays folded after it was printed (default 60 s). */
export const REPEAT_WINDOW_MS = 60_000;

/** The most distinct lines remembered: a worker's failures are a handful of kinds. */
const REMEMBERED_LINES = 100;

interface Printed {
  at: number;
  folded: number;
}

export class RepeatedLines {
  private readonly printed = new Map<string, Printed>();

  constructor(
    private readonly windowMs = REPEAT_WINDOW_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The line to print for `line`: itself the first time, null while it repeats within the
   * window, and itself with how often it was left out once the window has passed.
   */
  fold(line: string): string | null {
    const now = this.now();
    const seen = this.printed.get(line);
    if (seen && now - seen.at < this.windowMs) {
      seen.folded += 1;
      return null;
    }
    this.remember(line, now);
    if (!seen || seen.folded === 0) return line;
    const seconds = Math.round((now - seen.at) / 1000);
    return `${line} (${seen.folded} more time${seen.folded === 1 ? "" : "s"} in the last ${seconds}s)`;
  }

  private remember(line: string, now: number): void {
    this.printed.delete(line);
    this.printed.set(line, { at: now, folded: 0 });
    // Maps keep insertion order: the oldest goes first.
    if (this.printed.size > REMEMBERED_LINES) {
      const oldest = this.printed.keys().next().value as string;
      this.printed.delete(oldest);
    }
  }
}
