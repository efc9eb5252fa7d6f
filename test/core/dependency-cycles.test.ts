/** Cycle finding in `after` graphs: which cycle, which job is on one, and at any depth. */

import { describe, expect, test } from "bun:test";
import { cycleText, findCycle, firstOnCycle } from "../../src/core/dependency-cycles.ts";

const graph = (pairs: Record<string, string[]>) => new Map(Object.entries(pairs));

/**
 * A pipeline `step-0 ← step-1 ← … ← step-(n-1)`, each step waiting for the one before, listed
 * last step first, so a walk from the first listed job goes the whole depth (a recursive walk
 * ran out of stack at 100,000).
 */
function pipeline(steps: number): Map<string, string[]> {
  const edges = new Map<string, string[]>();
  for (let i = steps - 1; i >= 1; i--) edges.set(`step-${i}`, [`step-${i - 1}`]);
  return edges;
}

describe("findCycle", () => {
  test("names one cycle, first id repeated last", () => {
    expect(findCycle(graph({ a: ["b"], b: ["c"], c: ["a"] }))).toEqual(["a", "b", "c", "a"]);
    expect(findCycle(graph({ a: ["a"] }))).toEqual(["a", "a"]);
    expect(findCycle(graph({ x: ["a"], a: ["b"], b: ["a"] }))).toEqual(["a", "b", "a"]);
  });

  test("a diamond, or jobs waiting for unknown ids, is no cycle", () => {
    expect(findCycle(graph({ d: ["b", "c"], b: ["a"], c: ["a"] }))).toBeNull();
    expect(findCycle(graph({ a: ["elsewhere"] }))).toBeNull();
    expect(findCycle(new Map())).toBeNull();
  });

  test("a pipeline of 100,000 steps is walked without running out of stack", () => {
    const edges = pipeline(100_000);
    expect(findCycle(edges)).toBeNull();
    edges.set("step-0", ["step-99999"]);
    expect(findCycle(edges)?.length).toBe(100_001);
  });
});

describe("firstOnCycle", () => {
  test("the first of the given jobs that waits for itself", () => {
    const edges = graph({ a: ["b"], b: ["c"], c: ["a"], d: ["d"] });
    expect(firstOnCycle(["a"], edges)).toBe("a");
    expect(firstOnCycle(["c", "a"], edges)).toBe("c");
    expect(firstOnCycle(["d"], edges)).toBe("d");
  });

  test("a job that only waits for a cycle of others is not on it", () => {
    const edges = graph({ x: ["a"], a: ["b"], b: ["a"] });
    expect(firstOnCycle(["x"], edges)).toBeNull();
    expect(firstOnCycle(["x", "b"], edges)).toBe("b");
  });

  test("layers that each wait for the whole layer before hold no cycle until one edge points back", () => {
    const layers = 30;
    const width = 30;
    const edges = new Map<string, string[]>();
    const ids: string[] = [];
    for (let layer = 0; layer < layers; layer++) {
      for (let place = 0; place < width; place++) {
        const id = `l${layer}-${place}`;
        ids.push(id);
        if (layer > 0)
          edges.set(
            id,
            Array.from({ length: width }, (_, other) => `l${layer - 1}-${other}`),
          );
      }
    }
    expect(firstOnCycle(ids, edges)).toBeNull();
    edges.set("l0-7", ["l29-3"]);
    // l0-7 → l29-3 → every job of layer 28 → … → l0-7; l0-0 waits for nothing.
    expect(firstOnCycle(["l0-0", "l5-5", "l0-7"], edges)).toBe("l5-5");
  });

  test("a pipeline of 100,000 steps is walked without running out of stack", () => {
    const edges = pipeline(100_000);
    expect(firstOnCycle(["step-99999"], edges)).toBeNull();
    edges.set("step-0", ["step-99999"]);
    expect(firstOnCycle(["step-0"], edges)).toBe("step-0");
  });
});

describe("cycleText", () => {
  test("names a short cycle whole and a long one by its ends and a count", () => {
    expect(cycleText(["a", "b", "a"])).toBe("a → b → a");
    const twelve = [...Array.from({ length: 11 }, (_, index) => `c${index}`), "c0"];
    expect(cycleText(twelve)).toBe(twelve.join(" → "));
    const long = [...Array.from({ length: 50_000 }, (_, index) => `c${index}`), "c0"];
    expect(cycleText(long)).toBe("c0 → c1 → c2 → c3 → c4 → … 49993 more … → c49998 → c49999 → c0");
  });
});
