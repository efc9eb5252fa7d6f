/**
 * A worker's hot path on SQLite in one IMMEDIATE transaction: the runs that finished well
 * are completed and the free slots claimed again. One commit instead of two per job is
 * most of the saving: a commit is a WAL append (and, with synchronous=FULL, an fsync),
 * while the statements themselves take microseconds.
 */

import type { Database } from "bun:sqlite";
import type { Job } from "../../core/job.ts";
import type { CompleteAndClaimParams, CompleteAndClaimResult } from "../params.ts";
import { claimJob, walkedQueues } from "./claim.ts";
import { completeJob } from "./run.ts";

export function completeAndClaim(db: Database, params: CompleteAndClaimParams): CompleteAndClaimResult {
  const { now, claim } = params;
  const completed = params.completions.map((run) =>
    completeJob(db, { id: run.id, token: run.token, now, result: run.result }),
  );
  const claimed: Job[] = [];
  const walked = claim && claim.limit > 0 ? walkedQueues(db, claim.queues) : null;
  while (claim && claimed.length < claim.limit) {
    const job = claimJob(db, { ...claim, now }, walked);
    if (!job) break;
    claimed.push(job);
  }
  return { completed, claimed };
}
