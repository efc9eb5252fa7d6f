/**
 * Why a running attempt's job stopped being its own, read from the job's row rather than
 * guessed. A lease renewal or a result the fencing token refuses usually means another
 * worker took the job over (a rescue, maybe a new claim), but a job can also be canceled
 * in place while it runs: a newer occurrence of its schedule replaces it (`overlap:
 * replace`), and the store writes why in last_error. Its token is then still this attempt's.
 */

import type { Job } from "../core/job.ts";
import type { HeldLease, Store } from "../store/store.ts";
import type { RecordedOutcome } from "./outcome.ts";

/** Why the job was canceled while attempt `token` ran it, or null when it was not (another worker took it). */
export function canceledWhileRunning(token: number, row: Job | null): string | null {
  if (row === null || row.token !== token || row.state !== "canceled") return null;
  return row.last_error ?? "canceled";
}

/** canceledWhileRunning, from the store; a failed read explains nothing rather than failing the caller. */
export async function readCanceledWhileRunning(store: Store, lease: HeldLease): Promise<string | null> {
  const row = await store.jobGet({ id: lease.id }).catch(() => null);
  return canceledWhileRunning(lease.token, row);
}

/** A `discarded` outcome, with why when the job was canceled in place rather than taken over. */
export async function explainDiscarded(
  store: Store,
  job: Job,
  recorded: RecordedOutcome,
): Promise<RecordedOutcome> {
  if (recorded.outcome !== "discarded") return recorded;
  const canceled = await readCanceledWhileRunning(store, job);
  return canceled === null ? recorded : { ...recorded, canceled };
}
