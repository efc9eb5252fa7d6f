/**
 * Dependency graphs (`after`): cycles are refused at enqueue or sync with the cycle named,
 * since a cycle would leave every job in it waiting forever.
 */

import { UserError } from "./errors.ts";

/** Returns one cycle as a list of ids (first = last), or null. `edges` maps id → ids it waits for. */
export function findCycle(edges: ReadonlyMap<string, readonly string[]>): string[] | null {
  const state = new Map<string, "visiting" | "done">();
  const path: string[] = [];
  const visit = (id: string): string[] | null => {
    const seen = state.get(id);
    if (seen === "done") return null;
    if (seen === "visiting") return [...path.slice(path.indexOf(id)), id];
    state.set(id, "visiting");
    path.push(id);
    for (const next of edges.get(id) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(id, "done");
    return null;
  };
  for (const id of edges.keys()) {
    const cycle = visit(id);
    if (cycle) return cycle;
  }
  return null;
}

export function assertNoCycle(edges: ReadonlyMap<string, readonly string[]>): void {
  const cycle = findCycle(edges);
  if (cycle) {
    throw new UserError(
      `the dependencies form a cycle: ${cycle.join(" → ")}`,
      "remove one `after` entry of the cycle",
    );
  }
}
