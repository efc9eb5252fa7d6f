/**
 * Bodies past the 32 MiB enqueue limit get the documented JSON 413 with the usual security
 * headers from a real `queuectl dashboard`, whatever their size, and the server reads no
 * more than the limit: a Content-Length over it is refused before a byte of body is sent,
 * and a chunked body is cut off once it passes the limit.
 */

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { connect, type Socket } from "node:net";
import { boundedRequest } from "../../src/dashboard/routes.ts";
import { type TempHome, tempHome } from "../helpers/cli.ts";
import { type RunningDashboard, startDashboard } from "./server.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(120_000);

const LIMIT = 32 * 1024 * 1024;
const MIB = new Uint8Array(1024 * 1024).fill("a".charCodeAt(0));
/** MiB a chunked test offers: far past the limit, so reading it all could never pass unseen. */
const OFFERED = 512;

let home: TempHome;
let dashboard: RunningDashboard;

beforeAll(async () => {
  home = tempHome();
  delete home.env.QUEUECTL_DASHBOARD_TOKEN;
  dashboard = await startDashboard(home.env);
});
afterAll(async () => {
  await dashboard?.stop();
  home?.cleanup();
});

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Body bytes written before the answer came. */
  sent: number;
}

/**
 * One POST over a bare socket, so the test controls what is sent and when: the head, then
 * `chunks` MiB of body (chunked when no length is given), stopping as soon as an answer
 * arrives, which tells how much the server took before answering.
 */
function rawPost(path: string, headers: Record<string, string>, chunks: number): Promise<RawAnswer> {
  const { hostname, port } = new URL(dashboard.origin);
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({ host: hostname, port: Number(port) });
    let received = "";
    let sent = 0;
    let answered = false;
    const finish = () => {
      const [head = "", body = ""] = received.split("\r\n\r\n", 2);
      const [statusLine = "", ...lines] = head.split("\r\n");
      const parsed = Object.fromEntries(
        lines.map((line) => [
          line.slice(0, line.indexOf(":")).toLowerCase(),
          line.slice(line.indexOf(":") + 1).trim(),
        ]),
      );
      resolve({ status: Number(statusLine.split(" ")[1]), headers: parsed, body, sent });
    };
    socket.on("data", (data) => {
      answered = true;
      received += data.toString();
      const length = received.match(/\r\ncontent-length: *(\d+)/i)?.[1];
      const bodyStart = received.indexOf("\r\n\r\n");
      if (length && bodyStart >= 0 && received.length - bodyStart - 4 >= Number(length)) {
        socket.destroy();
        finish();
      }
    });
    socket.on("error", (error) => (answered ? finish() : reject(error)));
    socket.on("close", () => (answered ? finish() : reject(new Error("closed without an answer"))));
    socket.on("connect", async () => {
      const head = Object.entries({ host: `${hostname}:${port}`, ...dashboard.auth, ...headers })
        .map(([name, value]) => `${name}: ${value}\r\n`)
        .join("");
      socket.write(`POST ${path} HTTP/1.1\r\n${head}\r\n`);
      const chunked = headers["transfer-encoding"] === "chunked";
      for (let i = 0; i < chunks && !answered && !socket.destroyed; i++) {
        const piece = chunked
          ? Buffer.concat([Buffer.from(`${MIB.length.toString(16)}\r\n`), MIB, Buffer.from("\r\n")])
          : MIB;
        if (!socket.write(piece)) await new Promise((drained) => socket.once("drain", drained));
        sent += MIB.length;
      }
      if (chunked && !answered && !socket.destroyed) socket.write("0\r\n\r\n");
    });
  });
}

function expectJson413(answer: RawAnswer) {
  expect(answer.status).toBe(413);
  expect(answer.headers["content-type"]).toContain("application/json");
  expect(answer.headers["x-content-type-options"]).toBe("nosniff");
  expect(answer.headers["x-frame-options"]).toBe("DENY");
  expect(answer.headers["cache-control"]).toBe("no-store");
  const body = JSON.parse(answer.body) as { error: string; hint: string };
  expect(body.error).toContain(String(LIMIT));
  expect(body.hint).toContain("queuectl enqueue -f");
}

describe("POST /api/jobs with a body over the limit", () => {
  test("a Content-Length over it is a JSON 413 before any body is sent, for any size", async () => {
    for (const length of [LIMIT + 1, LIMIT + 2048, 8 * 1024 ** 3]) {
      const answer = await rawPost(
        "/api/jobs",
        { "content-type": "application/json", "content-length": String(length) },
        0,
      );
      expectJson413(answer);
    }
  });

  test("a chunked body is cut off just past the limit with a JSON 413", async () => {
    const answer = await rawPost(
      "/api/jobs",
      { "content-type": "application/json", "transfer-encoding": "chunked" },
      OFFERED,
    );
    // How much the client got to send says nothing: the server may drain what it does not
    // read, and a busy machine answers late. What is read is bounded below, by counting.
    expectJson413(answer);
  });

  test("a body is read only up to the cap, then left unread", async () => {
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += MIB.length;
        controller.enqueue(MIB);
      },
    });
    const request = new Request("http://127.0.0.1/api/jobs", { method: "POST", body });
    expect(await boundedRequest(request, 4 * MIB.length)).toBeNull();
    // The cap, the chunk that crossed it, and at most one the stream had queued ahead.
    expect(pulled).toBeLessThanOrEqual(7 * MIB.length);
  });

  test("a chunked body under the limit is enqueued, and the server still answers", async () => {
    const body = new Blob([JSON.stringify({ id: "chunked", command: "true" })]).stream();
    const response = await fetch(`${dashboard.origin}/api/jobs`, {
      method: "POST",
      headers: { ...dashboard.auth, "content-type": "application/json" },
      body,
    });
    expect(response.status).toBe(201);
    expect(await response.json()).toEqual({ enqueued: 1, ids: ["chunked"], schedules: [], canceled: [] });
  });

  test("a sign-in body over its small cap is a wrong token", async () => {
    const answer = await rawPost(
      "/api/login",
      { origin: dashboard.origin, "content-type": "application/json", "transfer-encoding": "chunked" },
      OFFERED,
    );
    // What is past the cap is not kept: the server may drain it to keep the connection
    // usable, so how much the client got to send is no measure here.
    expect(answer.status).toBe(401);
  });
});
