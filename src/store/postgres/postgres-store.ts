import { UserError } from "../../core/errors.ts";
import type { Store } from "../store.ts";

export async function openPostgresStore(_url: string): Promise<Store> {
  throw new UserError(
    "the PostgreSQL backend is not available in this build",
    "use a SQLite path for QUEUECTL_DB",
  );
}
