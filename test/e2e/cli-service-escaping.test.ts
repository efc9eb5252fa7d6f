/**
 * `service` writes every value by the rules of the line it lands on: ExecStart= expands
 * `$NAME` and specifiers, Environment= only specifiers, and the path settings take the
 * path verbatim apart from specifiers, so a folder named with `$`, `%`, quotes or
 * backslashes reaches the process as it is.
 */

import { expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../../src/core/errors.ts";
import { type UnitParams, unitText } from "../../src/service/units.ts";
import { runCli, systemdVerify } from "../helpers/cli.ts";
import { ok, workerTestContext } from "../worker/helpers.ts";

setDefaultTimeout(60_000);

const context = workerTestContext();

const PARAMS: UnitParams = {
  cli: ["/usr/bin/bun", "/opt/queuectl/src/cli.ts"],
  home: "/var/lib/q",
  db: undefined,
  path: "/usr/bin",
  workingDirectory: "/srv/app",
  concurrency: 1,
  jobsDir: "/srv/jobs",
  port: 8080,
  dashboardEnvFile: "/var/lib/q/dashboard.env",
  scope: "user",
};

function line(unit: string, setting: string): string[] {
  return unit.split("\n").filter((text) => text.startsWith(`${setting}=`));
}

test("a `$` in the watched folder is written `$$` on ExecStart=, beside `%%`", async () => {
  const jobs = join(context.home.home, "j$HOME x%");
  mkdirSync(jobs);
  const out = ok(
    await runCli(["service", "--only", "watch", "--jobs", jobs], {
      env: context.home.env,
      cwd: context.home.home,
    }),
  );
  const written = `"${jobs.replaceAll("$", () => "$$").replaceAll("%", "%%")}"`;
  expect(out).toContain(` watch ${written}\n`);
  expect(out).toContain(`watch "${context.home.home}/j$$HOME x%%"\n`);
});

test("ExecStart= words: `$` alone or before braces, `%`, quotes, backslashes and control characters", () => {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: systemd's ${NAME}, not a template
  const unit = unitText("watch", { ...PARAMS, jobsDir: '/srv/a$b ${HOME}\\x"y\nz\t%' });
  expect(line(unit, "ExecStart")).toEqual([
    'ExecStart=/usr/bin/bun /opt/queuectl/src/cli.ts watch "/srv/a$$b $${HOME}\\\\x\\"y\\nz\\t%%"',
  ]);
  // Without spaces the word stays bare, `$` still doubled.
  const bare = unitText("watch", { ...PARAMS, jobsDir: "/srv/$USER/jobs" });
  expect(line(bare, "ExecStart")).toEqual([
    "ExecStart=/usr/bin/bun /opt/queuectl/src/cli.ts watch /srv/$$USER/jobs",
  ]);
  // A trailing backslash would continue the line: quoted, and escaped.
  const trailing = unitText("watch", { ...PARAMS, jobsDir: "/srv/jobs\\" });
  expect(line(trailing, "ExecStart")).toEqual([
    'ExecStart=/usr/bin/bun /opt/queuectl/src/cli.ts watch "/srv/jobs\\\\"',
  ]);
});

test("Environment= expands specifiers only: `$` stays single, `%` is doubled", () => {
  const unit = unitText("worker", {
    ...PARAMS,
    home: "/var/$HOME/q%",
    db: "postgres://u:p$w%@db/q",
    path: "/opt/my bin:/usr/bin",
  });
  expect(line(unit, "Environment")).toEqual([
    "Environment=QUEUECTL_HOME=/var/$HOME/q%%",
    "Environment=QUEUECTL_DB=postgres://u:p$w%%@db/q",
    'Environment="PATH=/opt/my bin:/usr/bin"',
  ]);
  const control = unitText("worker", { ...PARAMS, home: '/var/a"b\nc' });
  expect(line(control, "Environment")[0]).toBe('Environment="QUEUECTL_HOME=/var/a\\"b\\nc"');
});

test("path settings take the path verbatim but for `%`, and refuse what they cannot hold", () => {
  const unit = unitText("dashboard", {
    ...PARAMS,
    workingDirectory: "/srv/$HOME x%",
    dashboardEnvFile: "/var/$q %/dashboard.env",
  });
  expect(line(unit, "WorkingDirectory")).toEqual(["WorkingDirectory=/srv/$HOME x%%"]);
  expect(line(unit, "EnvironmentFile")).toEqual(["EnvironmentFile=/var/$q %%/dashboard.env"]);
  for (const workingDirectory of ["/srv/a\nb", "/srv/a ", "/srv/a\\"]) {
    expect(() => unitText("worker", { ...PARAMS, workingDirectory })).toThrow(UserError);
  }
  expect(() => unitText("dashboard", { ...PARAMS, dashboardEnvFile: "/var/q\t/dashboard.env" })).toThrow(
    UserError,
  );
});

test.skipIf(Bun.which("systemd-analyze") === null)("systemd-analyze verify accepts such units", async () => {
  const folder = join(context.home.home, "w$HOME 100%");
  mkdirSync(folder, { recursive: true });
  const dir = join(context.home.home, "units-escaped");
  ok(
    await runCli(["service", "--install", "--dir", dir, "--jobs", folder], {
      env: context.home.env,
      cwd: folder,
    }),
  );
  const files = readdirSync(dir).map((name) => join(dir, name));
  expect(await systemdVerify(files)).toBe("");
});
