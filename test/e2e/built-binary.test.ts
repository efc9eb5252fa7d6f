/**
 * The binary `bun run build` makes (src/build-binary.ts): it is the whole CLI, starts its
 * own background workers and names itself in service units, and refuses to run once its
 * sources change. Built once from a copy of the sources, so the staleness test can touch a
 * file without touching this checkout.
 */

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, mkdtempSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type CliResult, refused, tempHome, waitFor } from "../helpers/cli.ts";

const CHECKOUT = resolve(import.meta.dir, "../..");
let root = "";
let binary = "";

async function run(args: string[], env: Record<string, string>): Promise<CliResult> {
  const child = Bun.spawn([binary, ...args], { env, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, exitCode] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  return { exitCode, stdout, stderr };
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "queuectl-build-"));
  cpSync(join(CHECKOUT, "src"), join(root, "src"), { recursive: true });
  for (const file of ["package.json", "bun.lock"]) cpSync(join(CHECKOUT, file), join(root, file));
  symlinkSync(join(CHECKOUT, "node_modules"), join(root, "node_modules"));
  binary = join(root, "dist", "queuectl");
  const build = Bun.spawn(["bun", join(root, "src", "build-binary.ts")], { stdout: "pipe", stderr: "pipe" });
  const [output, code] = await Promise.all([new Response(build.stderr).text(), build.exited]);
  if (code !== 0) throw new Error(`bun run build failed: ${output}`);
}, 120_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("the built binary", () => {
  test("runs jobs in workers it starts in the background, and names itself in service units", async () => {
    const home = tempHome();
    try {
      const enqueued = await run(["enqueue", '{"id":"built","command":"echo from the binary"}'], home.env);
      expect(enqueued.stderr).toBe("");
      expect(enqueued.exitCode).toBe(0);
      const started = await run(["worker", "start", "--count", "1"], home.env);
      expect(started.exitCode).toBe(0);
      await waitFor(
        async () => (await run(["show", "built", "--json"], home.env)).stdout.includes('"completed"'),
        {
          timeoutMs: 20_000,
          what: "the job to complete in a worker the binary started",
        },
      );
      expect((await run(["worker", "stop"], home.env)).exitCode).toBe(0);
      const units = await run(["service", "--only", "worker"], home.env);
      expect(units.stdout).toContain(`ExecStart=${binary} worker run`);
    } finally {
      home.cleanup();
    }
  }, 60_000);

  test("refuses to run once a source file changed, and leaves the queue as it was", async () => {
    const home = tempHome();
    try {
      // An editor's leftovers beside the sources are no change.
      writeFileSync(join(root, "src", "core", ".job.ts.swp"), "swap");
      symlinkSync("user@host.1:1", join(root, "src", "core", ".#job.ts"));
      expect((await run(["enqueue", '{"id":"kept","command":"true"}'], home.env)).exitCode).toBe(0);
      const later = new Date(Date.now() + 60_000);
      utimesSync(join(root, "src", "core", "job.ts"), later, later);
      const stale = await run(["enqueue", '{"id":"refused","command":"true"}'], home.env);
      refused(stale, "was built before the latest change to its sources");
      expect(stale.stderr).toContain("bun run build");
      const listed = Bun.spawnSync(["bun", join(CHECKOUT, "src", "cli.ts"), "list", "--json"], {
        env: home.env,
      });
      expect(JSON.parse(listed.stdout.toString()).map((job: { id: string }) => job.id)).toEqual(["kept"]);
      // A copy of the binary is told to take the rebuilt one, which is not where it lives.
      const copy = join(root, "queuectl-copy");
      cpSync(binary, copy);
      const child = Bun.spawnSync([copy, "status"], { env: home.env });
      expect(child.stderr.toString()).toContain(`then copy ${binary} over ${copy}`);
    } finally {
      home.cleanup();
    }
  }, 30_000);

  test("without its sources it runs as built, the dashboard's page included", async () => {
    renameSync(join(root, "src"), join(root, "moved-away"));
    const home = tempHome();
    const dashboard = Bun.spawn([binary, "dashboard", "--port", "0"], {
      env: home.env,
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      expect((await run(["enqueue", '{"id":"as-built","command":"true"}'], home.env)).exitCode).toBe(0);
      const reader = dashboard.stdout.getReader();
      let printed = "";
      const url = await waitFor(
        async () => {
          const { value } = await reader.read();
          printed += new TextDecoder().decode(value ?? new Uint8Array());
          return /(http:\/\/127\.0\.0\.1:\d+)\/\?token=(\w+)/.exec(printed);
        },
        { timeoutMs: 20_000, what: "the dashboard's address" },
      );
      const headers = { Authorization: `Bearer ${url[2]}` };
      const script = await fetch(`${url[1]}/app.js`, { headers });
      expect(script.status).toBe(200);
      expect(await script.text()).toContain("getElementById");
      expect((await fetch(`${url[1]}/api/jobs`)).status).toBe(401);
    } finally {
      dashboard.kill();
      await dashboard.exited;
      home.cleanup();
    }
  }, 60_000);
});
