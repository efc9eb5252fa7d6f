import { setDefaultTimeout } from "bun:test";

// Tests drive real worker processes and databases; a busy two-core CI machine must not fail them on time alone.
setDefaultTimeout(60_000);
