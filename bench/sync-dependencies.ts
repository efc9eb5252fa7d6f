/**
 * Row 8, with dependencies: `queuectl sync` of a folder whose jobs wait for one another in
 * layers, each job of a layer waiting for every job of the layer before (a fan-in/fan-out
 * pipeline, 40 × 40 jobs and 62,400 `after` edges at full size). The apply checks, inside its
 * write transaction, that no job waits on itself; a check that walked every (job, ancestor)
 * pair held the store's write lock for most of a minute here. Baseline: a sync of as many
 * jobfiles with no `after`, in the same run.
 */

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type BenchContext, type BenchRow, benchHome, CLI, fmtCount, fmtMs, timeCommand } from "./harness.ts";

/** `layers` × `width` jobfiles in `dir`; with `waits`, each waits for the whole layer before. */
function writeLayers(dir: string, layers: number, width: number, waits: boolean): number {
  mkdirSync(dir, { recursive: true });
  let edges = 0;
  for (let layer = 0; layer < layers; layer++) {
    const before = Array.from({ length: width }, (_, place) => `l${layer - 1}-${place}`);
    for (let place = 0; place < width; place++) {
      const after = waits && layer > 0 ? `after: [${before.join(", ")}]\n` : "";
      if (after) edges += width;
      writeFileSync(join(dir, `l${layer}-${place}.yaml`), `command: echo ${layer} ${place}\n${after}`);
    }
  }
  return edges;
}

export async function benchSyncDependencies(context: BenchContext): Promise<BenchRow> {
  const side = context.size(40, 10);
  const home = benchHome();
  try {
    const plain = join(home.home, "plain");
    const layered = join(home.home, "layered");
    writeLayers(plain, side, side, false);
    const edges = writeLayers(layered, side, side, true);
    const baseline = await timeCommand(
      ["bun", CLI, "sync", plain, "--db", join(home.home, "plain.db")],
      home.env,
    );
    const elapsed = await timeCommand(["bun", CLI, "sync", layered], home.env);
    return {
      row: 8,
      what: `\`sync\` of ${fmtCount(side * side)} jobfiles in ${side} layers, each job waiting for every job of the layer before (${fmtCount(edges)} \`after\` edges)`,
      value: fmtMs(elapsed),
      baseline: `${fmtMs(baseline)} (\`sync\` of as many jobfiles without \`after\`)`,
      ratio: elapsed / baseline,
      goal: "≤ 5 s",
      met: elapsed <= 5_000,
      score: -elapsed,
    };
  } finally {
    home.cleanup();
  }
}
