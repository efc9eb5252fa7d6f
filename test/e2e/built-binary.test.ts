/**
 * The binary `bun run build` makes (src/build-binary.ts), the `queuectl` an install puts on
 * the PATH: it is the whole CLI, starts its own background workers and names itself in
 * service units, and runs its sources instead once they change. Built once from a copy of
 * the sources, so the staleness test can change a file without touching this checkout.
 */

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  chmodSync,
  chownSync,
  cpSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { AS_NOBODY } from "../faults/helpers.ts";
import { type CliResult, tempHome, waitFor } from "../helpers/cli.ts";

const CHECKOUT = resolve(import.meta.dir, "../..");
let root = "";
let binary = "";

async function run(args: string[], env: Record<string, string>, command = [binary]): Promise<CliResult> {
  const child = Bun.spawn([...command, ...args], {
    env,
    cwd: env.QUEUECTL_HOME,
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

/** Which code `args` ran in the binary, as Bun's profiler names the scripts it sampled. */
async function codeThatRan(args: string[], env: Record<string, string>): Promise<string> {
  const dir = mkdtempSync(join(env.QUEUECTL_HOME as string, "profile-"));
  try {
    // Every 50 µs: at the default 1 ms, a call of a few ms may leave its bundle unsampled.
    const options = `--cpu-prof --cpu-prof-interval=50 --cpu-prof-dir=${dir}`;
    const result = await run(args, { ...env, BUN_OPTIONS: options });
    expect(result.exitCode).toBe(0);
    const urls = new Set(
      readdirSync(dir).flatMap((name) =>
        [...readFileSync(join(dir, name), "utf8").matchAll(/"url":"([^"]*)"/g)].map((match) => match[1]),
      ),
    );
    const ran = [
      ...(urls.has("file:///$bunfs/root/cli-direct-entry.js") ? ["direct calls' bundle"] : []),
      ...(urls.has("file:///$bunfs/root/cli.js") ? ["whole CLI's bundle"] : []),
      ...([...urls].some((url) => url?.startsWith(`file://${root}/src/`)) ? ["sources"] : []),
    ];
    return ran.join(" and ") || "none of them";
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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

  test("prepares a large NDJSON file on its second thread: all of it, or nothing and the bad line named", async () => {
    const home = tempHome();
    try {
      // Over 1 MiB, the size from which a streamed input is prepared ahead on a thread.
      const lines = Array.from(
        { length: 40_000 },
        (_, i) => `{"id":"bulk-${i}","command":"true","tags":["t"]}`,
      );
      const file = join(home.home, "jobs.ndjson");
      writeFileSync(
        file,
        [...lines.slice(0, 39_000), '{"id":"bad","command":"true","retries":1}'].join("\n"),
      );
      const refused = await run(["enqueue", "-f", file], home.env);
      expect(refused.exitCode).toBe(2);
      expect(refused.stderr).toContain("line 39001");
      expect(refused.stderr).toContain("`retries` is not a job field");
      writeFileSync(file, lines.join("\n"));
      const enqueued = await run(["enqueue", "-f", file], home.env);
      expect(enqueued.stderr).toBe("");
      expect(enqueued.stdout).toContain("Enqueued 40000 jobs");
      const last = JSON.parse((await run(["show", "bulk-39999", "--json"], home.env)).stdout);
      expect(last.tags).toEqual(["t"]);
    } finally {
      home.cleanup();
    }
  }, 60_000);

  test("answers the calls scripts make in loops from a bundle of their own, as the whole CLI does", async () => {
    const calls = [
      ["enqueue", '{"id":"direct","command":"true"}'],
      ["enqueue", '{"id":"direct","command":"true"}'],
      ["enqueue", '{"id":"typed","command":1}'],
      ["enqueue", '{"id":"cut'],
      ["enqueue", '{"id":"bytes-\uFFFD","command":"true"}'],
      ["enqueue", "--db=other.db", '{"id":"elsewhere","command":"true"}', "--json"],
      ["status", "--db", "missing.db"],
      ["status", "--json", "--db", "other.db"],
      ["status"],
    ];
    const [built, sources] = [tempHome(), tempHome()];
    try {
      // Each home's own path as the same word, so that messages naming a file compare.
      const inHome = (result: CliResult, home: string) =>
        JSON.parse(JSON.stringify(result).replaceAll(home, "HOME")) as CliResult;
      for (const call of calls) {
        const fromSources = await run(call, sources.env, ["bun", join(root, "src", "cli.ts")]);
        expect(inHome(await run(call, built.env), built.home)).toEqual(inHome(fromSources, sources.home));
      }
      expect(await codeThatRan(["status"], built.env)).toBe("direct calls' bundle");
      expect(await codeThatRan(["list"], built.env)).toBe("whole CLI's bundle");
    } finally {
      built.cleanup();
      sources.cleanup();
    }
  }, 60_000);

  test.skipIf(process.getuid?.() !== 0)(
    "sources a user may not read: it runs as built, a direct call as any other",
    async () => {
      // Another user may run the executable and write a queue of their own, not read the clone.
      const home = tempHome();
      const src = join(root, "src");
      chmodSync(root, 0o755);
      chmodSync(join(root, "dist"), 0o755);
      chownSync(home.home, 65534, 65534);
      chmodSync(src, 0o700);
      try {
        for (const args of [["enqueue", '{"id":"other-user","command":"true"}'], ["status"], ["list"]]) {
          const child = Bun.spawnSync([...AS_NOBODY, binary, ...args], { env: home.env, stderr: "pipe" });
          expect({ args, stderr: child.stderr.toString(), exitCode: child.exitCode }).toEqual({
            args,
            stderr: "",
            exitCode: 0,
          });
        }
      } finally {
        chmodSync(src, 0o755);
        chmodSync(root, 0o700);
        home.cleanup();
      }
    },
  );

  describe("once its sources change", () => {
    let home: ReturnType<typeof tempHome>;
    const install = () =>
      Bun.spawnSync(["bun", join(root, "src", "build-binary.ts"), "--install", binary], { stderr: "pipe" });
    const manifest = () => join(root, "package.json");
    const withVersion = (version: string) => {
      const declared = JSON.parse(readFileSync(manifest(), "utf8"));
      writeFileSync(manifest(), JSON.stringify({ ...declared, version }));
    };
    const oneLine = (result: CliResult) => expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);

    beforeAll(() => {
      home = tempHome();
    });
    afterAll(async () => {
      await run(["worker", "stop"], home.env);
      home.cleanup();
    });

    test("an editor's leftovers are no change: an install finds it up to date", async () => {
      writeFileSync(join(root, "src", "core", ".job.ts.swp"), "swap");
      symlinkSync("user@host.1:1", join(root, "src", "core", ".#job.ts"));
      expect(install().stdout.toString()).toContain("is up to date");
      expect((await run(["enqueue", '{"id":"kept","command":"true"}'], home.env)).exitCode).toBe(0);
    });

    test("a direct call follows only the files it runs, from its bundle or from the sources", async () => {
      expect(await codeThatRan(["status"], home.env)).toBe("direct calls' bundle");
      // The dashboard is not part of a direct call: the rest of the CLI now runs the sources.
      const page = join(root, "src", "dashboard", "server.ts");
      writeFileSync(page, `${readFileSync(page, "utf8")}\n// changed\n`);
      expect(await codeThatRan(["status"], home.env)).toBe("direct calls' bundle");
      expect(await codeThatRan(["list"], home.env)).toBe("sources");
      // Not in the direct calls' bundle, but `bun src/cli.ts status` runs it.
      const words = join(root, "src", "cli-run.ts");
      writeFileSync(words, `${readFileSync(words, "utf8")}\n// changed\n`);
      expect(await codeThatRan(["status"], home.env)).toBe("sources");
    });

    test("it runs the changed sources", async () => {
      withVersion("9.9.9-changed");
      expect((await run(["--version"], home.env)).stdout).toContain("9.9.9-changed");
    });

    test("changed sources without their dependencies get one line naming the fix", async () => {
      renameSync(join(root, "node_modules"), join(root, "node_modules-away"));
      const bare = await run(["status"], home.env);
      renameSync(join(root, "node_modules-away"), join(root, "node_modules"));
      expect(bare.exitCode).toBe(1);
      expect(bare.stderr).toContain("their dependencies are not installed");
      oneLine(bare);
    });

    test("workers it starts run the same executable, so the same sources; units name it", async () => {
      expect((await run(["worker", "start", "--count", "1"], home.env)).exitCode).toBe(0);
      expect((await run(["enqueue", '{"id":"after","command":"true"}'], home.env)).exitCode).toBe(0);
      await waitFor(
        async () => (await run(["show", "after", "--json"], home.env)).stdout.includes('"completed"'),
        { timeoutMs: 20_000, what: "the job to complete in a worker the changed binary started" },
      );
      expect((await run(["service", "--only", "worker"], home.env)).stdout).toContain(
        `ExecStart=${binary} worker`,
      );
    }, 30_000);

    test("a leading path to the sources is taken as Bun takes it (how older sources start workers)", async () => {
      expect((await run([join(root, "src", "cli.ts"), "--version"], home.env)).stdout).toContain("9.9.9");
    });

    test("sources that do not load: one line; an install leaves a script that says the same, even while a worker runs the executable", async () => {
      const entry = join(root, "src", "cli.ts");
      const source = readFileSync(entry, "utf8");
      writeFileSync(entry, `${source}\nexport const = ;\n`);
      const broken = await run(["enqueue", '{"id":"refused","command":"true"}'], home.env);
      // The worker started above still runs the executable the install replaces.
      const failedInstall = install();
      const fromScript = await run(["status"], home.env);
      writeFileSync(entry, source);
      // A file of the direct calls' bundle, which the build reads before it compiles: the same.
      const bundled = join(root, "src", "core", "revision.ts");
      const bundledSource = readFileSync(bundled, "utf8");
      writeFileSync(bundled, `${bundledSource}\nexport const = ;\n`);
      const failedAgain = install();
      writeFileSync(bundled, bundledSource);
      expect(failedAgain.exitCode).toBe(0);
      expect(failedAgain.stderr.toString()).toContain(`${binary} runs the sources`);
      expect((await run(["worker", "stop"], home.env)).exitCode).toBe(0);
      expect(broken.exitCode).toBe(1);
      expect(broken.stderr).toStartWith(
        `error: this queuectl runs its sources since they changed, and ${entry} does not load`,
      );
      oneLine(broken);
      expect(failedInstall.exitCode).toBe(0);
      expect(failedInstall.stderr.toString()).toContain(`${binary} runs the sources`);
      expect(fromScript.exitCode).toBe(1);
      expect(fromScript.stderr).toStartWith(`error: ${entry} does not load`);
      oneLine(fromScript);
      expect((await run(["--version"], home.env)).stdout).toContain("9.9.9-changed");
      const listed = await run(["list", "--json"], home.env);
      expect(JSON.parse(listed.stdout).map((job: { id: string }) => job.id)).toEqual(["kept", "after"]);
    }, 30_000);

    test("the next install compiles it again", async () => {
      const rebuilt = install();
      expect(rebuilt.exitCode).toBe(0);
      expect(rebuilt.stdout.toString()).toContain(`built ${binary}`);
      expect((await run(["--version"], home.env)).stdout).toContain("9.9.9-changed");
    }, 60_000);

    test("a clone moved elsewhere follows its own sources", () => {
      const moved = `${root}-moved`;
      renameSync(root, moved);
      try {
        const declared = JSON.parse(readFileSync(join(moved, "package.json"), "utf8"));
        writeFileSync(join(moved, "package.json"), JSON.stringify({ ...declared, version: "9.9.9-moved" }));
        const child = Bun.spawnSync([join(moved, "dist", "queuectl"), "--version"], { env: home.env });
        expect(child.stdout.toString()).toContain("9.9.9-moved");
      } finally {
        renameSync(moved, root);
      }
    });
  });

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
      // Over 1 MiB: prepared on the thread the executable embeds, with no source to load it from.
      const file = join(home.home, "bulk.ndjson");
      writeFileSync(
        file,
        Array.from({ length: 30_000 }, (_, i) => `{"id":"moved-${i}","command":"true","tags":["t"]}`).join(
          "\n",
        ),
      );
      const bulk = await run(["enqueue", "-f", file], home.env);
      expect(bulk.stderr).toBe("");
      expect(bulk.stdout).toContain("Enqueued 30000 jobs");
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
