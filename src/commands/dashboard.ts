import type { CAC } from "cac";
import { UserError } from "../core/errors.ts";

export function registerDashboard(cli: CAC): void {
  cli.command("dashboard", "Serve the web dashboard and /metrics").action(() => {
    throw new UserError("the dashboard is not available in this build", "");
  });
}
