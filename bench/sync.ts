/**
 * Row 8: `queuectl sync` of 10,000 jobfiles into an empty queue, then the no-op re-sync of
 * the same folder. Baseline: a bare Bun process that walks the folder, reads every file
 * and parses it with the same YAML library, which a first sync must at least do; the re-sync
 * takes unchanged files from the folder's read index (in the bench's QUEUECTL_HOME) unread.
 */

import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { openStore } from "../src/store/open.ts";
import { type BenchContext, type BenchRow, benchHome, CLI, fmtCount, fmtMs, timeCommand } from "./harness.ts";

const PER_FOLDER = 100;

const PARSE_ONLY = `
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
let parsed = 0;
const walk = (dir) => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path);
    else if (parse(readFileSync(path, "utf8"))) parsed++;
  }
};
walk(process.argv[1]);
if (parsed === 0) process.exit(1);
`;

export function writeJobfiles(dir: string, count: number): void {
  for (let i = 0; i < count; i++) {
    const folder = join(dir, `team-${Math.floor(i / PER_FOLDER)}`);
    if (i % PER_FOLDER === 0) mkdirSync(folder, { recursive: true });
    writeFileSync(
      join(folder, `job-${i}.yaml`),
      `# nightly task ${i}\ncommand: echo job ${i}\nmax_retries: 2\ntimeout: 5m\ntags: [bench, team-${Math.floor(i / PER_FOLDER)}]\n`,
    );
  }
}

export async function benchSync(context: BenchContext): Promise<BenchRow[]> {
  const count = context.size(10_000, 500);
  const home = benchHome();
  try {
    const dir = join(home.home, "jobs");
    writeJobfiles(dir, count);
    const repo = resolve(import.meta.dir, "..");
    const parseMs = async () => {
      const started = performance.now();
      const child = Bun.spawn(["bun", "-e", PARSE_ONLY, dir], {
        cwd: repo,
        stdio: ["ignore", "ignore", "inherit"],
      });
      if ((await child.exited) !== 0) throw new Error("the parse-only baseline failed");
      return performance.now() - started;
    };
    const firstBase = await parseMs();
    const first = await timeCommand(["bun", CLI, "sync", dir], home.env);
    const againBase = await parseMs();
    const again = await timeCommand(["bun", CLI, "sync", dir], home.env);
    const store = await openStore({ url: home.db });
    try {
      const total = (await store.jobCounts()).total;
      if (total !== count) throw new Error(`sync queued ${total} jobs, not ${count}`);
    } finally {
      await store.close();
    }
    const baseline = (ms: number) => `${fmtMs(ms)} (a bare Bun process reading and parsing the files)`;
    return [
      {
        row: 8,
        what: `\`sync\` of ${fmtCount(count)} jobfiles into an empty queue (whole CLI process)`,
        value: fmtMs(first),
        baseline: baseline(firstBase),
        ratio: first / firstBase,
        goal: "≤ 5 s",
        met: first <= 5_000,
        score: -first,
      },
      {
        row: 8,
        what: `no-op re-sync of the same ${fmtCount(count)} jobfiles (whole CLI process)`,
        value: fmtMs(again),
        baseline: baseline(againBase),
        ratio: again / againBase,
        goal: "≤ 0.5 s",
        met: again <= 500,
        score: -again,
      },
    ];
  } finally {
    home.cleanup();
  }
}
