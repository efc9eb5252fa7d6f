/**
 * The shape of src/, read from its import lines: no file import cycles, arrows that point
 * one way (core never reaches into the store, jobfiles never render, command files never
 * lean on each other), and no file past 400 lines, in src/ nor among the .ts files of test/
 * and bench/. Static, dynamic (`await import`) and `require` imports all count, type-only
 * ones too: a type cycle is still a cycle to read.
 */

import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");
const SRC = join(ROOT, "src");
const MAX_LINES = 400;

/** Every file under `dir`, as a path relative to `base`. */
function sourceFiles(dir = SRC, base = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? sourceFiles(path, base) : [relative(base, path)];
  });
}

// `from "./x.ts"` (import and export-from, single or multi-line), `import("./x.ts")`,
// `require("./x.ts")` and a bare `import "./x.ts"`. Only relative specifiers are files of src/.
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)["'](\.{1,2}\/[^"']+)["']/gm;

/** Each src file's imports of other src files, as paths relative to src/. */
export function importGraph(files: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of files.filter((name) => name.endsWith(".ts"))) {
    const text = readFileSync(join(SRC, file), "utf8");
    const targets = [...text.matchAll(IMPORT)]
      .map((match) => relative(SRC, resolve(SRC, dirname(file), match[1] ?? "")))
      .filter((target) => !target.startsWith(".."));
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/** One cycle as a path `a → b → … → a`, or null; depth-first with the usual three colours. */
export function findCycle(graph: Map<string, string[]>): string[] | null {
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (file: string): string[] | null => {
    if (state.get(file) === "done") return null;
    if (state.get(file) === "open") return [...path.slice(path.indexOf(file)), file];
    state.set(file, "open");
    path.push(file);
    for (const target of graph.get(file) ?? []) {
      const cycle = visit(target);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(file, "done");
    return null;
  };
  for (const file of graph.keys()) {
    const cycle = visit(file);
    if (cycle) return cycle;
  }
  return null;
}

const files = sourceFiles();
const graph = importGraph(files);
const edges = [...graph].flatMap(([from, targets]) => targets.map((to) => ({ from, to })));
const under = (file: string, folder: string) => file.startsWith(`${folder}/`);
const arrows = (rule: (from: string, to: string) => boolean) =>
  edges.filter(({ from, to }) => rule(from, to)).map(({ from, to }) => `${from} → ${to}`);

describe("the import graph of src/", () => {
  test("is read: every relative import names a file that exists", () => {
    const missing = edges.filter(({ to }) => !files.includes(to)).map(({ from, to }) => `${from} → ${to}`);
    expect(missing).toEqual([]);
    expect(edges.length).toBeGreaterThan(200);
  });

  test("has no cycles", () => {
    expect(findCycle(graph)?.join(" → ") ?? "no cycle").toBe("no cycle");
  });

  test("src/core imports nothing from src/store", () => {
    expect(arrows((from, to) => under(from, "core") && under(to, "store"))).toEqual([]);
  });

  test("src/jobfiles does not render", () => {
    const rendering = (to: string) => to === "render.ts" || under(to, "render");
    expect(arrows((from, to) => under(from, "jobfiles") && rendering(to))).toEqual([]);
  });

  test("command files import no other command file but context.ts", () => {
    expect(
      arrows((from, to) => under(from, "commands") && under(to, "commands") && to !== "commands/context.ts"),
    ).toEqual([]);
  });
});

describe("file length", () => {
  const lineCount = (file: string) => readFileSync(join(ROOT, file), "utf8").split("\n").length - 1;
  const tooLong = (paths: string[]) =>
    paths.filter((file) => lineCount(file) > MAX_LINES).map((file) => `${file}: ${lineCount(file)} lines`);

  test(`src files stay within ${MAX_LINES} lines`, () => {
    expect(tooLong(files.map((file) => join("src", file)))).toEqual([]);
  });

  // The fixture generator belongs to the version whose stores it made; it is not edited to fit.
  test(`test and bench .ts files stay within ${MAX_LINES} lines, fixtures aside`, () => {
    const code = ["test", "bench"]
      .flatMap((folder) => sourceFiles(join(ROOT, folder), ROOT))
      .filter((file) => file.endsWith(".ts") && !file.startsWith("test/fixtures/"));
    expect(code).toContain("test/architecture.test.ts");
    expect(code).toContain("bench/run.ts");
    expect(tooLong(code)).toEqual([]);
  });
});

describe("the cycle finder", () => {
  test("finds a cycle through several files and none in a tree", () => {
    const cyclic = new Map([
      ["a.ts", ["b.ts"]],
      ["b.ts", ["c.ts"]],
      ["c.ts", ["a.ts"]],
    ]);
    expect(findCycle(cyclic)).toEqual(["a.ts", "b.ts", "c.ts", "a.ts"]);
    const tree = new Map([
      ["a.ts", ["b.ts", "c.ts"]],
      ["b.ts", ["c.ts"]],
      ["c.ts", []],
    ]);
    expect(findCycle(tree)).toBeNull();
  });
});
