import type { CAC } from "cac";
import { UserError } from "../core/errors.ts";

export function registerLogs(cli: CAC): void {
  cli.command("logs <id>", "Show a job's captured output").action(() => {
    throw new UserError("logs are not available in this build", "");
  });
}
