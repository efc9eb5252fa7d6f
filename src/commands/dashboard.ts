import type { CAC } from "cac";
import { negatedFlagsAsFalse, TEXT_OPTION } from "../cli-argv.ts";
import { runtimeError, UserError } from "../core/errors.ts";
import { isDecimalIPv4 } from "../dashboard/security.ts";
import { safeText } from "../render.ts";
import { LONG_RUNNING_CONNECTIONS, openStore } from "../store/open.ts";
import { type GlobalOptions, integerOption, lastValue } from "./context.ts";

interface DashboardFlags extends GlobalOptions {
  port?: number | string;
  host?: string;
  /** A string from --token, false from --no-token, undefined when neither was given. */
  token?: string | boolean | (string | boolean)[];
}

/**
 * `--no-token` beside `--token` is refused, not settled by which came last: the dashboard
 * would otherwise serve every local user while its owner believes it locked. Read from the
 * words as typed: cac keeps only one value for the pair. (Over QUEUECTL_DASHBOARD_TOKEN, a
 * setting of the environment, the flag typed for this run wins, as flags do.)
 */
function refuseContradictoryToken(words: readonly string[]): void {
  if (!words.includes("--no-token")) return;
  if (words.some((word) => word === "--token" || word.startsWith("--token=")))
    throw new UserError("--token and --no-token contradict each other", "give one of them");
}

/** The token to require, or null when the user opted out; generated when none was given. */
async function chooseToken(flag: unknown): Promise<{ token: string | null; generated: boolean }> {
  if (flag === false) return { token: null, generated: false };
  if (flag !== undefined) return { token: String(flag), generated: false };
  const fromEnv = process.env.QUEUECTL_DASHBOARD_TOKEN;
  if (fromEnv) return { token: fromEnv, generated: false };
  const { generateToken } = await import("../dashboard/security.ts");
  return { token: generateToken(), generated: true };
}

/** Runs until SIGINT or SIGTERM; the server is loaded lazily so other commands start fast. */
function notThisMachine(host: string): UserError {
  return new UserError(
    `--host ${safeText(host)} is not an address or name of this machine`,
    "e.g. --host 127.0.0.1, or --host 0.0.0.0 for every interface",
  );
}

export function registerDashboard(cli: CAC): void {
  const command = cli
    .command("dashboard", "Serve the web dashboard, its JSON API and Prometheus /metrics")
    .option("--port <port>", "TCP port; 0 picks a free one (default: 8080)", TEXT_OPTION)
    .option(
      "--host <address>",
      "Address to bind; anything but loopback needs a token (default: 127.0.0.1)",
      TEXT_OPTION,
    )
    .option(
      "--token <token>",
      "Secret every request needs, 16+ characters; every local user can read it in `ps`, so prefer $QUEUECTL_DASHBOARD_TOKEN (default: $QUEUECTL_DASHBOARD_TOKEN, else a random one, printed in the URL)",
      // As typed: cac would round a token of 19 digits to another number.
      TEXT_OPTION,
    )
    .option(
      "--no-token",
      "DANGEROUS: no token, so every local user can read job env and output and run jobs as you (default: off)",
    )
    .example("queuectl dashboard")
    .example("QUEUECTL_DASHBOARD_TOKEN=$(openssl rand -hex 16) queuectl dashboard --host 0.0.0.0");
  // chooseToken tells an absent flag (undefined) from `--no-token` (false).
  negatedFlagsAsFalse(command.options);
  command.action(async (options: DashboardFlags) => {
    const port = integerOption("port", lastValue(options.port), 0, 8080);
    if (port > 65_535) throw new UserError(`--port must be 65535 or less, got ${port}`, "e.g. --port 8080");
    const host = String(lastValue(options.host) ?? "127.0.0.1");
    // Digits and dots are meant as an IPv4 address; one that is none (999.1.1.1) is refused
    // here, not after a DNS lookup that fails another way where the resolver is unreachable.
    if (/^[\d.]+$/.test(host) && !isDecimalIPv4(host)) throw notThisMachine(host);
    refuseContradictoryToken(cli.rawArgs);
    const { token, generated } = await chooseToken(lastValue(options.token));
    const { checkBindPolicy } = await import("../dashboard/security.ts");
    checkBindPolicy(host, token);
    const { startDashboard } = await import("../dashboard/server.ts");
    // It only reads and changes what is queued: a --db naming no store is a typo, which would
    // otherwise serve (and report to Prometheus) an empty queue without a word.
    const store = await openStore({
      url: options.db,
      connections: LONG_RUNNING_CONNECTIONS,
      mustExist: true,
    });
    let dashboard: Awaited<ReturnType<typeof startDashboard>>;
    try {
      dashboard = await startDashboard({ store, host, port, token });
    } catch (error) {
      await store.close();
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EADDRINUSE")
        throw runtimeError(`port ${port} on ${host} is in use`, `pick another with --port ${port + 1}`);
      // An address of another machine, a name that does not resolve, or text that is no
      // address: the flag's value is wrong, not the machine.
      if (code === "EADDRNOTAVAIL" || code === "EINVAL" || code === "ENOTFOUND" || code === "EAI_NONAME")
        throw notThisMachine(host);
      throw error;
    }
    // A generated token is shown once, in the URL to open (as Jupyter does); a token the
    // user chose is theirs to know, and stays out of logs.
    const pageUrl = generated ? `${dashboard.url}?token=${token}` : dashboard.url;
    console.log(`queuectl dashboard on ${pageUrl}  (metrics at ${dashboard.url}metrics)`);
    if (token === null) {
      process.stderr.write(
        "warning: --no-token: every user of this machine can read job env and output and run jobs as you\n",
      );
    } else if (lastValue(options.token) !== undefined) {
      // A process's arguments are public on Linux (`ps`, /proc/PID/cmdline); its environment is not.
      process.stderr.write(
        "warning: a --token value is readable by every user of this machine (ps); set QUEUECTL_DASHBOARD_TOKEN instead\n",
      );
    } else if (generated) {
      console.log("Open that URL to sign in. Scripts and Prometheus send Authorization: Bearer <the token>.");
    } else {
      console.log(
        "Every request needs the token: open the page and sign in, or send Authorization: Bearer <token>.",
      );
    }
    await new Promise<void>((resolve) => {
      process.once("SIGINT", resolve);
      process.once("SIGTERM", resolve);
    });
    await dashboard.stop();
    await store.close();
  });
}
