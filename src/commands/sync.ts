import type { CAC } from "cac";
import { UserError } from "../core/errors.ts";

export function registerSync(cli: CAC): void {
  const notYet = () => {
    throw new UserError("jobfiles are not available in this build", "");
  };
  cli.command("sync [dir]", "Reconcile a jobs folder into the queue once").action(notYet);
  cli.command("watch [dir]", "Keep a jobs folder reconciled into the queue").action(notYet);
}
