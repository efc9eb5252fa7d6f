/**
 * What the short commands load when they start. A Node built-in such as node:crypto pulls in
 * Node's stream machinery: loading it cost every `enqueue` and `status` about 15 ms of a
 * 45 ms call, a third of a bare Bun start, for one random file name. The rule is read from
 * the import lines that run at load (value imports, not `import type`, nor the `await
 * import` and `require` that load on first use), from cli.ts and each short command's file.
 */

import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const SRC = resolve(import.meta.dir, "../src");

/** Built-ins that cost a short command more than its work; import them lazily, or use Bun's own. */
const HEAVY_BUILTINS = ["node:crypto", "node:stream", "node:child_process", "node:readline", "node:zlib"];

/** Entry points of the calls a script makes many times: the process's, then each command's. */
const ENTRIES = [
  "cli.ts",
  "commands/enqueue.ts",
  "commands/add.ts",
  "commands/status.ts",
  "commands/list.ts",
];

// `import x from "…"`, `import { a } from "…"` (over several lines), `export … from "…"` and a
// bare `import "…"`; not `import type`, which leaves nothing behind at run time.
const LOAD_IMPORT =
  /^\s*(?:import(?!\s+type\b)|export(?!\s+type\b))\s[^;]*?\bfrom\s*["']([^"']+)["']|^\s*import\s*["']([^"']+)["']/gm;

/** The specifiers `file` (relative to src/) loads as it loads. */
function loadImports(file: string): string[] {
  const text = readFileSync(join(SRC, file), "utf8");
  return [...text.matchAll(LOAD_IMPORT)].map((match) => (match[1] ?? match[2]) as string);
}

/** Every module loading `entry` loads with it: src files as paths, others by specifier; each with the file that first asked. */
function loadedWith(entry: string): Map<string, string> {
  const loaded = new Map<string, string>([[entry, entry]]);
  const queue = [entry];
  for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
    for (const specifier of loadImports(file)) {
      const target = specifier.startsWith(".")
        ? relative(SRC, resolve(SRC, dirname(file), specifier))
        : specifier;
      if (loaded.has(target)) continue;
      loaded.set(target, file);
      if (specifier.startsWith(".")) queue.push(target);
    }
  }
  return loaded;
}

describe("what a short command loads at start", () => {
  for (const entry of ENTRIES) {
    test(`${entry} loads no heavy Node built-in`, () => {
      const loaded = loadedWith(entry);
      expect(loaded.size).toBeGreaterThan(entry === "cli.ts" ? 3 : 10);
      const heavy = HEAVY_BUILTINS.filter((name) => loaded.has(name)).map(
        (name) => `${name}, imported by ${loaded.get(name)}`,
      );
      expect(heavy).toEqual([]);
    });
  }

  test("the reading of import lines sees value imports over several lines, and skips type-only ones", () => {
    const text =
      'import type { A } from "node:zlib";\nimport {\n  b,\n  c,\n} from "node:crypto";\nimport "./x.ts";\n';
    const found = [...text.matchAll(LOAD_IMPORT)].map((match) => match[1] ?? match[2]);
    expect(found).toEqual(["node:crypto", "./x.ts"]);
  });
});
