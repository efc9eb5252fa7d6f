/** `service`: systemd units for worker, watcher and dashboard, printed or installed. */

import { expect, setDefaultTimeout, test } from "bun:test";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { unitFolder, unitText } from "../../src/service/units.ts";
import { refused, runCli, systemdVerify } from "../helpers/cli.ts";
import { ok, workerTestContext } from "../worker/helpers.ts";

setDefaultTimeout(60_000);

const context = workerTestContext();

test("prints the three units with restart policy, environment and the commands they run", async () => {
  const out = ok(
    await runCli(["service", "--concurrency", "4", "--jobs", "/srv/jobs", "--port", "9090"], {
      env: {
        ...context.home.env,
        QUEUECTL_DB: "queue.db",
        QUEUECTL_HOST: "beta",
        PATH: "/opt/tools/bin:/usr/bin",
      },
      cwd: context.home.home,
    }),
  );
  const units = out.split(/^# (\/.*\.service)$/m).slice(1);
  const names = units.filter((_, index) => index % 2 === 0).map((path) => path.split("/").pop());
  expect(names).toEqual(["queuectl-worker.service", "queuectl-watch.service", "queuectl-dashboard.service"]);
  for (const unit of units.filter((_, index) => index % 2 === 1)) {
    expect(unit).toContain("Restart=on-failure\n");
    expect(unit).toContain(`Environment=QUEUECTL_HOME=${context.home.home}\n`);
    expect(unit).toContain(`Environment=QUEUECTL_DB=${join(context.home.home, "queue.db")}\n`);
    expect(unit).toContain("Environment=PATH=/opt/tools/bin:/usr/bin\n");
    // The name the shell registered under, as in "Two machines, step by step".
    expect(unit).toContain("Environment=QUEUECTL_HOST=beta\n");
    expect(unit).toMatch(/^\[Install\]\nWantedBy=(default|multi-user)\.target$/m);
  }
  expect(units[1]).toMatch(/^ExecStart=\S+ \S+cli\.ts worker run --concurrency 4$/m);
  expect(units[1]).toContain("KillMode=mixed\n");
  expect(units[3]).toMatch(/^ExecStart=\S+ \S+cli\.ts watch \/srv\/jobs$/m);
  expect(units[5]).toMatch(/^ExecStart=\S+ \S+cli\.ts dashboard --port 9090$/m);
});

test("--install writes the units it names, and says how to start them", async () => {
  const dir = join(context.home.home, "units");
  const out = ok(await context.cli("service", "--install", "--dir", dir, "--only", "worker,watch"));
  expect(readdirSync(dir).sort()).toEqual(["queuectl-watch.service", "queuectl-worker.service"]);
  expect(readFileSync(join(dir, "queuectl-worker.service"), "utf8")).toContain("worker run");
  expect(statSync(join(dir, "queuectl-worker.service")).mode & 0o777).toBe(0o644);
  expect(out).toContain(`✓ Wrote ${join(dir, "queuectl-worker.service")}`);
  // Outside systemd's own unit folders: enabled by their paths, which links them in.
  const worker = join(dir, "queuectl-worker.service");
  const watch = join(dir, "queuectl-watch.service");
  expect(out).toContain(`enable --now ${worker} ${watch}\n`);
  // A folder whose name needs quoting is quoted, so the line can be pasted.
  const spaced = join(context.home.home, "my units");
  const quoted = ok(await context.cli("service", "--install", "--dir", spaced, "--only", "worker"));
  expect(quoted).toContain(`enable --now '${join(spaced, "queuectl-worker.service")}'\n`);
});

test("a store URL with a password makes the installed units readable by their owner only", async () => {
  const dir = join(context.home.home, "units");
  const db = "postgres://queue:s3cret@db-host/queue";
  ok(await context.cli("--db", db, "service", "--install", "--dir", dir, "--only", "worker"));
  const file = join(dir, "queuectl-worker.service");
  expect(statSync(file).mode & 0o777).toBe(0o600);
  expect(readFileSync(file, "utf8")).toContain(`Environment=QUEUECTL_DB=${db}\n`);
});

test("--install goes to the user's unit folder, or the system's as root", () => {
  expect(unitFolder(1000, "/home/ann")).toEqual({ dir: "/home/ann/.config/systemd/user", scope: "user" });
  expect(unitFolder(0, "/root")).toEqual({ dir: "/etc/systemd/system", scope: "system" });
});

test("values with spaces are quoted and % is escaped for systemd", () => {
  const unit = unitText("watch", {
    cli: ["/usr/bin/bun", "/opt/queuectl/src/cli.ts"],
    home: "/var/lib/queue ctl",
    db: undefined,
    path: "/usr/bin",
    workingDirectory: "/srv/my app",
    concurrency: 1,
    jobsDir: "/srv/my app/jobs 100%",
    port: 8080,
    dashboardEnvFile: "/var/lib/queue ctl/dashboard.env",
    scope: "user",
  });
  expect(unit).toContain('Environment="QUEUECTL_HOME=/var/lib/queue ctl"\n');
  expect(unit).toContain("WorkingDirectory=/srv/my app\n");
  expect(unit).toContain('ExecStart=/usr/bin/bun /opt/queuectl/src/cli.ts watch "/srv/my app/jobs 100%%"\n');
});

test("an unknown unit is bad input", async () => {
  const result = await context.cli("service", "--only", "wroker");
  expect(result.exitCode).toBe(2);
  expect(result.stderr).toContain("did you mean `worker`?");
  refused(await context.cli("service", "--only", "worker,worker"), '--only names "worker" twice');
});

test("--install --dir naming a file, or a path through one, is bad input with the fix", async () => {
  const file = join(context.home.home, "not-a-folder");
  writeFileSync(file, "");
  for (const dir of [file, join(file, "units")])
    refused(
      await context.cli("service", "--install", "--dir", dir, "--only", "worker"),
      `cannot make the unit folder ${dir} (a file is in the way) — give --dir a folder`,
    );
});

test("a watch unit for a jobs folder that is not there is not installed, and a printed one warns", async () => {
  const dir = join(context.home.home, "units");
  const missing = join(context.home.home, "no-such-jobs");
  refused(
    await context.cli("service", "--install", "--dir", dir, "--jobs", missing),
    `the jobs folder ${missing} does not exist`,
  );
  expect(existsSync(dir)).toBe(false);
  const plain = join(context.home.home, "plain.txt");
  writeFileSync(plain, "");
  refused(
    await context.cli("service", "--install", "--dir", dir, "--only", "watch", "--jobs", plain),
    "is not a folder",
  );
  const printed = await context.cli("service", "--jobs", missing);
  expect(printed.exitCode).toBe(0);
  expect(printed.stderr).toStartWith(`warning: the jobs folder ${missing} does not exist`);
  // Without the watcher, the folder does not matter.
  ok(await context.cli("service", "--install", "--dir", dir, "--jobs", missing, "--only", "worker"));
});

test("a watch unit for a folder others can write, which watch refuses, is not installed", async () => {
  const dir = join(context.home.home, "units-shared");
  const shared = join(context.home.home, "shared-jobs");
  mkdirSync(shared, { mode: 0o700 });
  chmodSync(shared, 0o777);
  const result = await context.cli("service", "--install", "--dir", dir, "--only", "watch", "--jobs", shared);
  refused(result, "is writable by every user");
  expect(result.stderr).toContain("chmod go-w");
  expect(result.stderr).not.toContain("--allow-shared-folder");
  expect(existsSync(dir)).toBe(false);
});

test.skipIf(Bun.which("systemd-analyze") === null)("systemd-analyze verify finds nothing wrong", async () => {
  const dir = join(context.home.home, "units");
  ok(await context.cli("service", "--install", "--dir", dir));
  const files = readdirSync(dir).map((name) => join(dir, name));
  expect(await systemdVerify(files)).toBe("");
});

/** The token line of the dashboard's environment file, as systemd reads it. */
function tokenIn(file: string): string {
  return /^QUEUECTL_DASHBOARD_TOKEN=(\S+)$/m.exec(readFileSync(file, "utf8"))?.[1] ?? "";
}

test("the dashboard unit reads one fixed token from a file only its owner can read", async () => {
  const dir = join(context.home.home, "units");
  const file = join(context.home.home, "dashboard.env");
  const out = ok(
    await context.cli("service", "--install", "--dir", dir, "--only", "dashboard", "--port", "9191"),
  );
  const unit = readFileSync(join(dir, "queuectl-dashboard.service"), "utf8");
  expect(unit).toContain(`EnvironmentFile=${file}\n`);
  expect(statSync(file).mode & 0o777).toBe(0o600);
  const token = tokenIn(file);
  expect(token.length).toBeGreaterThanOrEqual(16);
  expect(unit).not.toContain(token);
  expect(out).toContain(`The dashboard's token is in ${file}`);
  expect(out).toContain(`http://127.0.0.1:9191/?token=${token}`);
  expect(out).toMatch(/journalctl .*-u queuectl-dashboard/);
  expect(out).not.toContain("queuectl-worker");
  // Installing again, or printing, keeps the token the user may already have bookmarked.
  ok(await context.cli("service", "--install", "--dir", dir));
  expect(ok(await context.cli("service", "--only", "dashboard"))).toContain(`EnvironmentFile=${file}\n`);
  expect(tokenIn(file)).toBe(token);
});

test("a printed dashboard unit works as printed: its token file is made, readable by its owner only", async () => {
  const file = join(context.home.home, "dashboard.env");
  const out = ok(await context.cli("service", "--only", "dashboard"));
  expect(out).toContain(`EnvironmentFile=${file}\n`);
  expect(statSync(file).mode & 0o777).toBe(0o600);
  expect(out).not.toContain(tokenIn(file));
});

test("a token file without a usable token is refused, not overwritten", async () => {
  const file = join(context.home.home, "dashboard.env");
  await Bun.write(file, "QUEUECTL_DASHBOARD_TOKEN=short\n");
  const result = await context.cli("service", "--only", "dashboard");
  expect(result.exitCode).toBe(2);
  expect(result.stderr).toMatch(/^error: .*dashboard\.env.* — .*\n$/);
  expect(readFileSync(file, "utf8")).toBe("QUEUECTL_DASHBOARD_TOKEN=short\n");
});

test("a port the dashboard would refuse is refused here, not written into a unit that cannot start", async () => {
  const result = await context.cli("service", "--port", "70000");
  expect(result.exitCode).toBe(2);
  expect(result.stdout).toBe("");
  expect(result.stderr).toContain("--port must be 65535 or less");
});

test("the store URL is read as the store reads it: other schemes are refused, PostgreSQL in any case is kept", async () => {
  const refused = await context.cli("--db", "mysql://db-host/queue", "service", "--only", "worker");
  expect(refused.exitCode).toBe(2);
  expect(refused.stdout).toBe("");
  expect(refused.stderr).toContain('unsupported database URL "mysql://db-host/queue"');
  const upper = ok(await context.cli("--db", "POSTGRES://db-host/queue", "service", "--only", "worker"));
  expect(upper).toContain("Environment=QUEUECTL_DB=POSTGRES://db-host/queue\n");
  const sqlite = ok(await context.cli("--db", "sqlite://rel.db", "service", "--only", "worker"));
  expect(sqlite).toContain(`Environment=QUEUECTL_DB=sqlite://${join(process.cwd(), "rel.db")}\n`);
});

test("folders are taken as typed, even when they look like numbers", async () => {
  const out = ok(await context.cli("service", "--only", "watch", "--jobs", "007"));
  expect(out).toMatch(new RegExp(`^ExecStart=\\S+ \\S+cli\\.ts watch ${join(process.cwd(), "007")}$`, "m"));
  const dir = join(context.home.home, "0100");
  ok(await context.cli("service", "--install", "--dir", dir, "--only", "worker"));
  expect(readdirSync(dir)).toEqual(["queuectl-worker.service"]);
});

test("--port and --concurrency are whole numbers as typed in decimal", async () => {
  for (const [option, value, example] of [
    ["--port", "0x50", "8080"],
    ["--port", "0", "8080"],
    ["--concurrency", "1e1", "1"],
  ] as const) {
    const result = await context.cli("service", option, value);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toBe(
      `error: ${option} must be a whole number of at least 1, got "${value}" — e.g. ${option} ${example}\n`,
    );
  }
  // A worker refuses more slots than this; a unit holding them would fail at every start.
  const tooMany = await context.cli("service", "--only", "worker", "--concurrency", "20000");
  expect(tooMany.exitCode).toBe(2);
  expect(tooMany.stderr).toContain('--concurrency must be at most 10,000, got "20000"');
});
