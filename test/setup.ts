import { setDefaultTimeout } from "bun:test";
import { accessSync, constants, statSync } from "node:fs";

// Tests drive real worker processes and databases; a busy two-core CI machine must not fail them on time alone.
setDefaultTimeout(60_000);

/**
 * Temp folders (QUEUECTL_HOME, SQLite files, jobs folders) go to RAM when the machine has
 * /dev/shm: real files and real SQLite locking, without an fsync per commit costing a disk
 * round trip that other processes on a shared disk stretch to tens of ms. A TMPDIR set by
 * the caller wins, e.g. TMPDIR=/tmp to run the suite on disk. Child processes inherit it.
 */
function ramTempDir(): string | null {
  try {
    if (!statSync("/dev/shm").isDirectory()) return null;
    accessSync("/dev/shm", constants.W_OK);
    return "/dev/shm";
  } catch {
    return null;
  }
}

if (!process.env.TMPDIR) {
  const ram = ramTempDir();
  if (ram) process.env.TMPDIR = ram;
}

/**
 * fast-check prints the seed of a failed property ("seed: 1814632358"); the same variable
 * that replays the suite's other random tests replays it: QUEUECTL_TEST_SEED=<seed>.
 */
if (process.env.QUEUECTL_TEST_SEED) {
  const fc = await import("fast-check");
  fc.configureGlobal({ seed: Number(process.env.QUEUECTL_TEST_SEED) >>> 0 });
}
