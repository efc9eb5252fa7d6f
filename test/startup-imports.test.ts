/**
 * What every command loads when it starts. The executable `bun install` builds runs one of
 * its bundles (src/build-binary.ts), and a bundle loads the Node built-ins that any of its
 * modules imports, at start, whichever command runs. node:crypto and node:net pull in Node's stream
 * machinery: their imports (a random name, a token compare, an address check) cost every
 * call, `queuectl --version` too, about 20 ms of CPU beside a 10 ms bare Bun start. So no
 * source file imports them at load: Web Crypto and Bun's hasher do the same work, and what
 * only node:net has is required where it is used. Read from the import lines that run at
 * load (value imports, not `import type`, nor a `require` in a function body).
 */

import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { directCallSources } from "../src/direct-call-sources.ts";

const SRC = resolve(import.meta.dir, "../src");

/** Built-ins that cost a start more than a short command's work; use Bun's own, or require them where used. */
const HEAVY_BUILTINS = [
  "crypto",
  "net",
  "stream",
  "child_process",
  "readline",
  "zlib",
  "http",
  "https",
  "tls",
];

// `import x from "…"`, `import { a } from "…"` (over several lines), `export … from "…"` and a
// bare `import "…"`; not `import type`, which leaves nothing behind at run time.
const LOAD_IMPORT =
  /^\s*(?:import(?!\s+type\b)|export(?!\s+type\b))\s[^;]*?\bfrom\s*["']([^"']+)["']|^\s*import\s*["']([^"']+)["']/gm;

function loadImports(text: string): string[] {
  return [...text.matchAll(LOAD_IMPORT)].map((match) => (match[1] ?? match[2]) as string);
}

const isHeavy = (specifier: string) => HEAVY_BUILTINS.includes(specifier.replace(/^node:/, ""));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

describe("what the executable loads at start", () => {
  test("no source file imports a heavy Node built-in at load", () => {
    const files = sourceFiles(SRC);
    expect(files.length).toBeGreaterThan(200);
    const heavy = files.flatMap((file) =>
      loadImports(readFileSync(file, "utf8"))
        .filter(isHeavy)
        .map((specifier) => `${relative(SRC, file)} imports ${specifier}`),
    );
    expect(heavy).toEqual([]);
  });

  test("the reading of import lines sees value imports over several lines, and skips type-only ones", () => {
    const text =
      'import type { A } from "node:zlib";\nimport {\n  b,\n  c,\n} from "node:crypto";\nimport "./x.ts";\nexport { d } from "net";\n';
    expect(loadImports(text)).toEqual(["node:crypto", "./x.ts", "net"]);
    expect(loadImports(text).filter(isHeavy)).toEqual(["node:crypto", "net"]);
  });
});

/** The modules (paths from the checkout) that the bundle of `entry` holds, as the executable's build makes it. */
async function bundled(entry: string): Promise<string[]> {
  const result = await Bun.build({ entrypoints: [join(SRC, entry)], target: "bun", metafile: true });
  expect(result.success).toBe(true);
  return Object.keys(result.metafile?.inputs ?? {});
}

describe("the executable's bundles (src/build-binary.ts)", () => {
  test("its entry holds only what picks the bundle to run, so that a start pays for one bundle", async () => {
    const modules = await bundled("binary-entry.ts");
    expect(modules.some((path) => path.endsWith("src/cli-direct.ts"))).toBe(true);
    expect(modules.filter((path) => !/src\/(binary-entry|cli-self|cli-direct)\.ts$/.test(path))).toEqual([]);
  });

  test("the calls scripts make in loops leave cac, the command table and the dashboard out", async () => {
    const direct = await bundled("cli-direct-entry.ts");
    expect(direct.some((path) => path.endsWith("src/commands/enqueue.ts"))).toBe(true);
    const whole = /node_modules\/cac\/|src\/cli-program\.ts|src\/dashboard\//;
    expect(direct.filter((path) => whole.test(path))).toEqual([]);
    expect((await bundled("cli.ts")).filter((path) => whole.test(path)).length).toBeGreaterThan(3);
  });

  test("a direct call's stamp lists what it runs, from the bundle or from the sources' entry", async () => {
    const files = await directCallSources(SRC);
    for (const ran of [
      "binary-entry.ts",
      "cli-direct-entry.ts",
      "commands/status.ts",
      "cli.ts",
      "cli-run.ts",
    ])
      expect(files).toContain(ran);
    // Imported by the sources' entry only for other words, or never by a direct call.
    for (const other of ["cli-program.ts", "commands/list.ts", "dashboard/server.ts"])
      expect(files).not.toContain(other);
  });
});
