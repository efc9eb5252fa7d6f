/**
 * The thread behind wal-checkpointer.ts: its own connection to the worker's database, and
 * a PASSIVE checkpoint each time it is asked. PASSIVE never waits for a lock and never
 * blocks a writer, so the worker's commits go on while this one copies pages and syncs.
 */

import { Database } from "bun:sqlite";
import type { CheckpointReply, CheckpointRequest } from "./wal-checkpointer.ts";

declare const self: Worker;

let db: Database | null = null;

function handle(request: CheckpointRequest): CheckpointReply {
  if (request.kind === "open") {
    // Never `create`: a database deleted under the worker must not come back empty.
    db = new Database(request.path, { readwrite: true, create: false });
    return { kind: "opened" };
  }
  if (request.kind === "checkpoint") {
    if (db === null) throw new Error("the checkpoint thread has no connection");
    db.query("PRAGMA wal_checkpoint(PASSIVE)").get();
    return { kind: "checkpointed", sequence: request.sequence };
  }
  db?.close(false);
  db = null;
  return { kind: "closed" };
}

self.onmessage = (event: MessageEvent<CheckpointRequest>) => {
  let reply: CheckpointReply;
  try {
    reply = handle(event.data);
  } catch (error) {
    // A failed checkpoint costs nothing but time: the connection's own autocheckpoint
    // still bounds the WAL. The owner is told, so a test can see it.
    reply = { kind: "failed", message: error instanceof Error ? error.message : String(error) };
    if (event.data.kind === "checkpoint") reply.sequence = event.data.sequence;
  }
  self.postMessage(reply);
};
