import type { CAC } from "cac";
import { UserError } from "../core/errors.ts";

const notYet = () => {
  throw new UserError("workers are not available in this build", "");
};

export function registerWorker(cli: CAC): void {
  cli.command("worker start", "Start background workers").action(notYet);
  cli.command("worker stop", "Stop this host's workers").action(notYet);
  cli.command("worker run", "Run a worker in the foreground").action(notYet);
}
