/** The store contract on PostgreSQL, part 1 of 3 (see postgres-contract.ts). */

import { setDefaultTimeout } from "bun:test";
import { postgresContract } from "./postgres-contract.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

postgresContract(1);
