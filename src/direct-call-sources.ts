/**
 * The source files a direct call (`enqueue '<json>'`, `status`: cli-direct.ts) runs, which
 * the executable stamps alone before such a call (binary-entry.ts, listedStamp in
 * cli-self.ts): a change to any of them must make it run its sources, and a change to any
 * other file must not change what such a call does.
 *
 * Two ways run a direct call, and both count. The executable runs its entry and the direct
 * calls' bundle: every module those bundles hold. The sources (`bun src/cli.ts status`, what
 * the executable runs once they change) load cli.ts and what it imports at load; the rest
 * of the whole CLI (cac, the command table) is imported only for other words. Read from the
 * bundler's own account of what it read (its metafile), so nothing is listed by hand.
 */

import { relative, resolve } from "node:path";
import { listedStamp } from "./cli-self.ts";

/** The executable's entry and the bundle it picks for a direct call: every module counts. */
const DIRECT_BUNDLES = ["binary-entry.ts", "cli-direct-entry.ts"];
/** The sources' entry: only what it imports at load counts (not `import()` nor `require`). */
const SOURCES_ENTRY = "cli.ts";

interface Input {
  imports: { path: string; kind: string }[];
}

/** The modules reached from `starts`, along every import or only along `import` statements. */
function reached(inputs: Record<string, Input>, starts: string[], staticOnly: boolean): Set<string> {
  const seen = new Set<string>();
  const next = [...starts];
  for (let path = next.pop(); path !== undefined; path = next.pop()) {
    if (seen.has(path)) continue;
    seen.add(path);
    for (const imported of inputs[path]?.imports ?? []) {
      if (!staticOnly || imported.kind === "import-statement") next.push(imported.path);
    }
  }
  return seen;
}

/**
 * The files (paths from `sourceDir`, sorted) a direct call runs. Dependencies are left out:
 * the manifests (package.json, bun.lock) stand for them in every stamp.
 */
export async function directCallSources(sourceDir: string): Promise<string[]> {
  const entries = [...DIRECT_BUNDLES, SOURCES_ENTRY];
  const result = await Bun.build({
    entrypoints: entries.map((entry) => resolve(sourceDir, entry)),
    target: "bun",
    metafile: true,
  });
  if (!result.success) throw new AggregateError(result.logs.map((log) => new Error(String(log.message))));
  const inputs = (result.metafile?.inputs ?? {}) as Record<string, Input>;
  // The metafile names each module by its path from the working folder.
  const key = (entry: string) => relative(process.cwd(), resolve(sourceDir, entry));
  const files = new Set([
    ...reached(inputs, DIRECT_BUNDLES.map(key), false),
    ...reached(inputs, [key(SOURCES_ENTRY)], true),
  ]);
  return [...files]
    .map((input) => relative(sourceDir, resolve(input)))
    .filter((path) => !path.startsWith("..") && !path.includes("node_modules/"))
    .sort();
}

/**
 * The files a direct call runs and their stamp. Listed again after stamping: an edit in
 * between that imports another file would leave that file out of the list, and its later
 * changes unnoticed by direct calls. An edit after the stamp only makes the binary run its
 * sources, as any change does.
 */
export async function directCallFacts(sourceDir: string): Promise<{ files: string[]; stamp: string }> {
  for (;;) {
    const files = await directCallSources(sourceDir);
    const stamp = listedStamp(sourceDir, files);
    const again = await directCallSources(sourceDir);
    if (again.join("\n") === files.join("\n")) return { files, stamp };
  }
}
