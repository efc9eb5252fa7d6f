/**
 * Rescue timing as the README states it: a worker killed with SIGKILL has its job rescued
 * by another worker within the lease, plus one heartbeat interval, plus 4 s. The lease is
 * long enough (20 s) that the heartbeat interval is at its 5 s cap, where slow rescue
 * checks used to add up to three heartbeats.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { heartbeatIntervalMs, resolveConfig } from "../../src/core/config.ts";
import { rescueWithinMs } from "../../src/worker/rescue.ts";
import { config, enqueue, getJob, workerTestContext } from "../worker/helpers.ts";

setDefaultTimeout(120_000);

const context = workerTestContext();

describe("rescue after SIGKILL", () => {
  test("another worker rescues the job within lease + one heartbeat interval + 4 s", async () => {
    await config(context.home, "lease", "20s");
    const settings = resolveConfig({ lease: "20" });
    const bound = rescueWithinMs(settings);
    expect(bound).toBe(settings.leaseMs + heartbeatIntervalMs(settings) + 4_000);
    await enqueue(context.home, { id: "orphan", command: "sleep 300", queue: "only-victim" });
    const victim = context.foreground(["--queue", "only-victim"]);
    const rescuer = context.foreground(["--queue", "elsewhere"]);
    await rescuer.waitForOutput("started");
    await victim.waitForOutput("orphan: attempt 1/4 started");
    const killedAt = Date.now();
    victim.process.kill("SIGKILL");
    await victim.process.exited;
    // The dead worker's last renewal stands: the lease ran out at this instant.
    const expiredAt = (await getJob(context.home, "orphan"))?.lease_until ?? Number.NaN;
    await rescuer.waitForOutput("orphan: rescued from worker", bound + 10_000);
    const rescuedAt = Date.now();
    console.log(
      `rescued ${rescuedAt - killedAt} ms after SIGKILL, ${rescuedAt - expiredAt} ms after the lease ran out (bound ${bound} ms)`,
    );
    expect(rescuedAt - killedAt).toBeLessThanOrEqual(bound);
    // Past the lease, only the confirmation and the checks remain: one heartbeat plus 4 s.
    expect(rescuedAt - expiredAt).toBeLessThanOrEqual(bound - settings.leaseMs);
  });
});
