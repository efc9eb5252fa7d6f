/**
 * Row 3, memory: the peak RSS of `enqueue -f` of a million-job NDJSON file, and of `import`
 * of the export of that queue, each beside a bare Bun process that reads the same file and
 * parses every line (the simplest program that looks at every job, keeping none).
 */

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type BenchContext, type BenchRow, benchHome, CLI, fmtCount, fmtMb, memoryOf } from "./harness.ts";

const LIMIT = 300 * 2 ** 20;

const BARE_PARSE = `
const text = await Bun.file(process.argv[1]).text();
for (const line of text.split("\\n")) if (line !== "") JSON.parse(line);
`;

/**
 * Runs a command to completion and returns its peak RSS in bytes (VmHWM, read every 20 ms
 * while it runs); throws on a non-zero exit. The child's rusage was read before, but in one
 * full run it gave the same 260.2 MB for three different commands.
 */
async function peakRss(argv: string[], env: Record<string, string>, stdout?: string): Promise<number> {
  const child = Bun.spawn(argv, {
    env,
    stdin: "ignore",
    stdout: stdout ? Bun.file(stdout) : "ignore",
    stderr: "pipe",
  });
  let peak = 0;
  const poll = setInterval(() => {
    try {
      peak = Math.max(peak, memoryOf(child.pid).hwm);
    } catch {
      // Exited between two reads: the last one stands.
    }
  }, 20);
  const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
  clearInterval(poll);
  if (code !== 0) throw new Error(`${argv.join(" ")} exited ${code}: ${stderr}`);
  return peak > 0 ? peak : Number.NaN;
}

function row(what: string, rss: number, bare: number): BenchRow {
  return {
    row: 3,
    what,
    value: fmtMb(rss),
    baseline: `${fmtMb(bare)} (bare Bun parsing every line of the same file)`,
    ratio: rss / bare,
    goal: "≤ 300 MB",
    met: rss <= LIMIT,
    score: -rss,
  };
}

export async function benchBulkMemory(context: BenchContext): Promise<BenchRow[]> {
  const count = context.size(1_000_000, 50_000);
  const source = benchHome();
  const target = benchHome();
  try {
    const file = join(source.home, "jobs.ndjson");
    writeFileSync(
      file,
      Array.from({ length: count }, (_, i) => `{"id":"job-${i}","command":"true"}`).join("\n"),
    );
    const bareJobs = await peakRss(["bun", "-e", BARE_PARSE, file], source.env);
    const enqueue = await peakRss(["bun", CLI, "enqueue", "-f", file], source.env);
    const exported = join(source.home, "export.ndjson");
    await peakRss(["bun", CLI, "export"], source.env, exported);
    const bareExport = await peakRss(["bun", "-e", BARE_PARSE, exported], source.env);
    const imported = await peakRss(["bun", CLI, "import", exported], target.env);
    return [
      row(`peak RSS of \`enqueue -f\` of ${fmtCount(count)} jobs from NDJSON`, enqueue, bareJobs),
      row(`peak RSS of \`import\` of the export of ${fmtCount(count)} jobs`, imported, bareExport),
    ];
  } finally {
    source.cleanup();
    target.cleanup();
  }
}
