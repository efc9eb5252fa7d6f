import type { CAC } from "cac";
import { runtimeError, UserError } from "../core/errors.ts";
import { openStore } from "../store/open.ts";
import { type GlobalOptions, integerOption, lastValue } from "./context.ts";

interface DashboardFlags extends GlobalOptions {
  port?: number | string;
  host?: string;
  token?: string;
}

/** Runs until SIGINT or SIGTERM; the server is loaded lazily so other commands start fast. */
export function registerDashboard(cli: CAC): void {
  cli
    .command("dashboard", "Serve the web dashboard, its JSON API and Prometheus /metrics")
    .option("--port <port>", "TCP port; 0 picks a free one (default: 8080)")
    .option("--host <address>", "Address to bind; anything but loopback needs a token (default: 127.0.0.1)")
    .option(
      "--token <token>",
      "Secret required by every request, 16+ characters (default: $QUEUECTL_DASHBOARD_TOKEN, else none)",
    )
    .example("queuectl dashboard")
    .example("QUEUECTL_DASHBOARD_TOKEN=$(openssl rand -hex 16) queuectl dashboard --host 0.0.0.0")
    .action(async (options: DashboardFlags) => {
      const port = integerOption("port", lastValue(options.port), 0, 8080);
      if (port > 65_535) throw new UserError(`--port must be 65535 or less, got ${port}`, "e.g. --port 8080");
      const host = String(lastValue(options.host) ?? "127.0.0.1");
      const flagToken = lastValue(options.token);
      const envToken = process.env.QUEUECTL_DASHBOARD_TOKEN;
      const token = flagToken !== undefined ? String(flagToken) : envToken ? envToken : null;
      const { checkBindPolicy } = await import("../dashboard/security.ts");
      checkBindPolicy(host, token);
      const { startDashboard } = await import("../dashboard/server.ts");
      const store = await openStore({ url: options.db });
      let dashboard: Awaited<ReturnType<typeof startDashboard>>;
      try {
        dashboard = await startDashboard({ store, host, port, token });
      } catch (error) {
        await store.close();
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "EADDRINUSE")
          throw runtimeError(`port ${port} on ${host} is in use`, `pick another with --port ${port + 1}`);
        if (code === "EADDRNOTAVAIL")
          throw runtimeError(`cannot bind ${host}`, "use an address of this machine, e.g. --host 127.0.0.1");
        throw error;
      }
      console.log(`queuectl dashboard on ${dashboard.url}  (metrics at ${dashboard.url}metrics)`);
      if (token !== null)
        console.log(
          "Every request needs the token: sign in on the page, or send Authorization: Bearer <token>.",
        );
      await new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      await dashboard.stop();
      await store.close();
    });
}
