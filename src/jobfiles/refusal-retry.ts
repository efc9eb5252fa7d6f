/**
 * While a watched folder's plan refuses something, the watcher plans it again sooner than
 * its periodic re-sync: the other folder holding an id may let go of it at any moment. A
 * file moved from one watched folder to another is refused by the second until the first
 * one's removal has settled; left to the re-sync, its job stayed undeclared for up to a
 * minute. The waits double from REFUSAL_RETRY_FIRST_MS up to REFUSAL_RETRY_LONGEST_MS, or
 * ten times what the last plan took when that is longer, so that a refusal that lasts costs
 * a large folder at most a tenth of a core; they start over once a plan refuses nothing.
 * A wait that would reach the re-sync's period is left to the re-sync.
 */

/** The first wait before a refused plan is made again (1 s). */
export const REFUSAL_RETRY_FIRST_MS = 1_000;

/** The longest wait between two tries of a refused plan, for a folder planned quickly (4 s). */
export const REFUSAL_RETRY_LONGEST_MS = 4_000;

export class RefusalRetry {
  private waitMs = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;

  /** `plan`: a full sync that plans the folder again; `maxMs`: the periodic re-sync's period. */
  constructor(
    private readonly plan: () => void,
    private readonly maxMs: number,
  ) {}

  /**
   * After every sync: `refused` says whether the folder's plan still refuses something, and
   * `planMs` how long the plan took (default 0).
   */
  afterSync(refused: boolean, planMs = 0): void {
    this.close();
    if (!refused) {
      this.waitMs = 0;
      return;
    }
    const longest = Math.max(REFUSAL_RETRY_LONGEST_MS, planMs * 10);
    this.waitMs = this.waitMs === 0 ? REFUSAL_RETRY_FIRST_MS : Math.min(this.waitMs * 2, longest);
    // From there on the periodic re-sync plans the folder as often; a second timer would double it.
    if (this.waitMs >= this.maxMs) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.plan();
    }, this.waitMs);
  }

  /**
   * After a sync that failed (the folder gone, a refusal of the whole folder): a retry, unless
   * one is already waiting. Events that fail while it waits (files changed in a folder moved
   * away) neither put it off nor lengthen the next wait; a retry that fails in turn does.
   */
  afterError(): void {
    if (this.timer !== null) return;
    this.afterSync(true);
  }

  /** The wait before the refused plan is made again; 0 while nothing is refused. */
  get currentWaitMs(): number {
    return this.waitMs;
  }

  close(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
