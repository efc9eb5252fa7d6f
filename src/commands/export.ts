import type { CAC } from "cac";
import { UserError } from "../core/errors.ts";

export function registerExportImport(cli: CAC): void {
  const notYet = () => {
    throw new UserError("export and import are not available in this build", "");
  };
  cli.command("export", "Write every job as NDJSON to stdout").action(notYet);
  cli.command("import [file]", "Read jobs exported by `queuectl export`").action(notYet);
}
