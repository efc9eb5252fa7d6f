/**
 * Bun's driver says a failed LISTEN (a PostgreSQL restart) with console.warn in its own
 * words; the queue says it as its other warnings read: `warning: …`, one line. Anything else
 * written with console.warn passes through untouched.
 */

import { expect, test } from "bun:test";
import { listenRetryWarning } from "../../src/store/postgres/changes.ts";

test("Bun's LISTEN retry line is reworded; other warnings pass through", () => {
  expect(
    listenRetryWarning([
      'bun:sql LISTEN "queuectl:public" failed, retrying: the database system is shutting down',
    ]),
  ).toBe(
    "warning: PostgreSQL's change notifications stopped (the database system is shutting down); reconnecting, and waiting by polling meanwhile",
  );
  expect(listenRetryWarning(["something else", 1])).toBeNull();
  expect(listenRetryWarning(["bun:sql something else"])).toBeNull();
});
