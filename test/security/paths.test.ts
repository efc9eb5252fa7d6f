/**
 * Ids and tags are data, never paths: jobs whose ids look like `../..`, absolute paths or
 * names longer than a file name may be run by a real worker, and every file queuectl writes
 * lands inside QUEUECTL_HOME under a hashed name. Everything it writes is private to its
 * owner (folders 0700, files 0600), even under a permissive umask of 000.
 */

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { CLI_PATH, type CliResult, type TempHome, tempHome, waitFor } from "../helpers/cli.ts";

setDefaultTimeout(120_000);

let home: TempHome;
beforeAll(() => {
  home = tempHome();
});
afterAll(() => home.cleanup());

/** Runs the CLI with umask 000, as a careless login shell or container might. */
async function cli(...args: string[]): Promise<CliResult> {
  const child = Bun.spawn(["sh", "-c", 'umask 000; exec bun "$@"', "sh", CLI_PATH, ...args], {
    env: home.env,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, exitCode] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  return { exitCode, stdout, stderr };
}

function ok(result: CliResult): string {
  if (result.exitCode !== 0) throw new Error(`exit ${result.exitCode}: ${result.stderr}`);
  return result.stdout;
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? [path, ...walk(path)] : [path];
  });
}

const mode = (path: string) => statSync(path).mode & 0o777;
const marker = `q6-${process.pid}-${Date.now()}`;
const hostile = {
  dotdot: `../../${marker}-escape`,
  absolute: `${tmpdir()}/${marker}-absolute`,
  nested: `logs/../../${marker}-nested`,
  // ".." alone is refused as an id (a URL path step); with more around it, it is a name.
  dots: "..x..",
  long: "x".repeat(255),
  // 255 characters of two bytes each: 510 bytes, twice what a file name may hold.
  wide: "ü".repeat(255),
  slashes: "a/b/c/d",
};

describe("hostile ids and tags with a real worker", () => {
  test("run, log and show normally; every file lands in QUEUECTL_HOME under a hashed name", async () => {
    for (const [name, id] of Object.entries(hostile)) {
      ok(
        await cli(
          "enqueue",
          JSON.stringify({
            id,
            command: `echo ran-${name}`,
            tags: [`../../${marker}-tag`, `/${marker}-tag-abs`],
          }),
        ),
      );
    }
    // Control characters (NUL included) and over-long ids never get in.
    const file = join(home.home, "bad.ndjson");
    for (const id of ["a\u0000b", "y".repeat(256), "\u001b]0;title\u0007", "-rf"]) {
      writeFileSync(file, JSON.stringify({ id, command: "true" }));
      const refused = await cli("enqueue", "-f", file);
      expect(refused.exitCode).toBe(2);
      expect(refused.stderr).toMatch(
        /^error: .*`id` (.* )?(contains control characters|is longer than 255|starts with "-")/,
      );
    }

    ok(await cli("worker", "run", "--drain"));
    for (const [name, id] of Object.entries(hostile)) {
      const shown = JSON.parse(ok(await cli("show", "--json", "--", id))) as { id: string; state: string };
      expect({ name, id: shown.id, state: shown.state }).toEqual({ name, id, state: "completed" });
      expect(ok(await cli("logs", "--", id))).toBe(`ran-${name}\n`);
    }

    // Nothing escaped the home folder: not next to it, not in the temp folder, not at the root.
    for (const dir of [dirname(home.home), tmpdir(), "/"]) {
      expect(readdirSync(dir).filter((entry) => entry.includes(marker))).toEqual([]);
    }
    const files = walk(home.home).map((path) => relative(home.home, path));
    const allowed = [
      /^jobs\.db(-wal|-shm)?$/,
      /^logs$/,
      /^logs\/[0-9a-f]{32}-\d+\.(out|err)(\.1)?$/,
      // Report files (progress, result) live here while an attempt runs; the folder stays.
      /^reports$/,
      /^reports\/[0-9a-f]{32}-\d+\.(progress|result)$/,
      /^bad\.ndjson$/,
    ];
    for (const path of files)
      expect({ path, allowed: allowed.some((rule) => rule.test(path)) }).toEqual({ path, allowed: true });
    // Log files are created on first output: each job printed to stdout only.
    expect(files.filter((path) => path.startsWith("logs/") && path.endsWith(".out")).length).toBe(
      Object.keys(hostile).length,
    );
  });
});

describe("permissions, under umask 000", () => {
  test("home and its folders 0700; database, WAL, logs and worker logs 0600", async () => {
    const started = JSON.parse(ok(await cli("worker", "start", "--count", "1", "--json"))) as {
      workers: { pid: number; log: string }[];
    };
    try {
      ok(await cli("enqueue", '{"id":"perm","command":"echo secret"}'));
      await waitFor(
        async () =>
          (JSON.parse(ok(await cli("show", "perm", "--json"))) as { state: string }).state === "completed",
        { what: "the job to run" },
      );
      expect(mode(home.home)).toBe(0o700);
      for (const dir of ["logs", "workers"])
        expect({ dir, mode: mode(join(home.home, dir)) }).toEqual({ dir, mode: 0o700 });
      // The WAL and shared-memory files exist while the worker holds the database open.
      const private_ = ["jobs.db", "jobs.db-wal", "jobs.db-shm"].filter((name) =>
        existsSync(join(home.home, name)),
      );
      expect(private_).toContain("jobs.db-wal");
      for (const path of [
        ...private_.map((name) => join(home.home, name)),
        ...walk(join(home.home, "logs")),
        started.workers[0]?.log ?? "",
      ]) {
        expect({ path, mode: mode(path) }).toEqual({ path, mode: 0o600 });
      }
    } finally {
      ok(await cli("worker", "stop"));
    }
  });
});
