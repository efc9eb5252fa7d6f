/**
 * Which jobs folder may declare an id (DESIGN.md, "Ownership"). One store may serve several
 * folders, so an id declared by another folder that still exists and still declares it is
 * refused, never taken over in silence. A folder takes a job over, visibly in the plan, when
 * the owning folder no longer exists (it moved, or was re-cloned elsewhere), when the owner
 * no longer declares the job, when the owner is what this folder was before it was
 * re-pointed (a symlinked `jobs -> releases/v2` now pointing at `releases/v3`), or when the
 * user asks with `sync --adopt`.
 */

import { isOwnedBy, type JobFacts, ownerKey } from "./reconcile.ts";

export type AdoptReason = "gone" | "undeclared" | "relinked" | "asked";

export type Ownership =
  | { kind: "ours" }
  | { kind: "adHoc" }
  | { kind: "adopt"; from: string; reason: AdoptReason }
  | { kind: "foreign"; owner: string };

export interface OwnershipContext {
  /** The declaring folder's real path. */
  root: string;
  /** Whether the owning folder (or, for rows without one, the declaring file) is still on disk. */
  ownerExists: boolean;
  /** `sync --adopt`: take over ids another live folder declares. Default false. */
  adopt: boolean;
  /**
   * The real folder the same named folder was synced from last, when that differs from
   * `root`: a symlinked jobs folder re-pointed since. Its jobs are this folder's now.
   */
  supersedes?: string | null;
}

export function decideOwnership(facts: JobFacts | null, context: OwnershipContext): Ownership {
  if (!facts || isOwnedBy(facts, context.root)) return { kind: "ours" };
  const from = ownerKey(facts);
  if (from === null) return { kind: "adHoc" };
  if (context.supersedes && isOwnedBy(facts, context.supersedes))
    return { kind: "adopt", from, reason: "relinked" };
  if (!context.ownerExists) return { kind: "adopt", from, reason: "gone" };
  if (!facts.declared) return { kind: "adopt", from, reason: "undeclared" };
  if (context.adopt) return { kind: "adopt", from, reason: "asked" };
  return { kind: "foreign", owner: from };
}
