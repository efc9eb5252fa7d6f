/**
 * Cycles in `after` graphs. Both walks keep their own stack instead of recursing: a pipeline
 * of a hundred thousand steps is a path that deep, and the JavaScript stack is not. Each
 * visits every job and edge once, so a sync of thousands of jobs that each wait for dozens
 * stays a matter of milliseconds inside its write transaction.
 *
 * `edges` maps a job's id to the ids it waits for.
 */

type Edges = ReadonlyMap<string, readonly string[]>;

/** One cycle as a list of ids (first = last), or null. */
export function findCycle(edges: Edges): string[] | null {
  const state = new Map<string, "visiting" | "done">();
  for (const root of edges.keys()) {
    if (state.has(root)) continue;
    // The path from root, each with the index of its next edge to follow.
    const path: string[] = [root];
    const nextEdge: number[] = [0];
    state.set(root, "visiting");
    while (path.length > 0) {
      const top = path.length - 1;
      const id = path[top] as string;
      const targets = edges.get(id) ?? [];
      const edge = nextEdge[top] as number;
      if (edge >= targets.length) {
        state.set(id, "done");
        path.pop();
        nextEdge.pop();
        continue;
      }
      nextEdge[top] = edge + 1;
      const target = targets[edge] as string;
      const seen = state.get(target);
      if (seen === "visiting") return [...path.slice(path.indexOf(target)), target];
      if (seen === "done") continue;
      state.set(target, "visiting");
      path.push(target);
      nextEdge.push(0);
    }
  }
  return null;
}

/**
 * The first of `ids` that waits, through any number of links, for itself; null when none
 * does. A job that merely waits for a cycle of others is not on it. Tarjan's strongly
 * connected components: a job is on a cycle when its component has another job in it or
 * it waits for itself directly.
 */
export function firstOnCycle(ids: readonly string[], edges: Edges): string | null {
  const order = new Map<string, number>();
  const low = new Map<string, number>();
  const open = new Set<string>();
  const component: string[] = [];
  const onCycle = new Set<string>();
  const enter = (id: string) => {
    order.set(id, order.size);
    low.set(id, order.size - 1);
    component.push(id);
    open.add(id);
  };
  for (const root of ids) {
    if (order.has(root)) continue;
    const path: string[] = [root];
    const nextEdge: number[] = [0];
    enter(root);
    while (path.length > 0) {
      const top = path.length - 1;
      const id = path[top] as string;
      const targets = edges.get(id) ?? [];
      const edge = nextEdge[top] as number;
      if (edge < targets.length) {
        nextEdge[top] = edge + 1;
        const target = targets[edge] as string;
        if (!order.has(target)) {
          enter(target);
          path.push(target);
          nextEdge.push(0);
        } else if (open.has(target)) {
          low.set(id, Math.min(low.get(id) as number, order.get(target) as number));
        }
        continue;
      }
      path.pop();
      nextEdge.pop();
      const parent = path[path.length - 1];
      if (parent !== undefined) low.set(parent, Math.min(low.get(parent) as number, low.get(id) as number));
      if (low.get(id) !== order.get(id)) continue;
      const members: string[] = [];
      let member: string;
      do {
        member = component.pop() as string;
        open.delete(member);
        members.push(member);
      } while (member !== id);
      if (members.length > 1 || targets.includes(id)) for (const each of members) onCycle.add(each);
    }
  }
  return ids.find((id) => onCycle.has(id)) ?? null;
}

/** The most ids an error names of one cycle; longer ones are named by their ends and a count. */
const CYCLE_IDS_NAMED = 12;

/**
 * A cycle (first = last) as an error names it: `a → b → a`, or for a long one its first five
 * ids and last three around the count of those left out, so that one line stays readable (a
 * generated pipeline of 50,000 jobs in a loop made a line of half a megabyte).
 */
export function cycleText(cycle: readonly string[]): string {
  if (cycle.length <= CYCLE_IDS_NAMED) return cycle.join(" → ");
  const first = cycle.slice(0, 5);
  const last = cycle.slice(-3);
  return `${first.join(" → ")} → … ${cycle.length - first.length - last.length} more … → ${last.join(" → ")}`;
}
