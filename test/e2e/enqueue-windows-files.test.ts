/**
 * `queuectl enqueue -f` of files that Windows tools write: byte-order marks (UTF-8, and UTF-16
 * from PowerShell's Out-File) and CRLF line endings, in JSON, NDJSON and YAML.
 */

import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { refused, runCli, runCliJson, succeeded, type TempHome, tempHome } from "../helpers/cli.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

let home: TempHome;
beforeEach(() => {
  home = tempHome();
});
afterEach(() => home.cleanup());

const cli = (args: string[], stdin?: string) => runCli(args, { env: home.env, stdin });
const list = () => runCliJson<{ id: string; command: string | string[] }[]>(["list"], { env: home.env });
const job = (id: string) => ({ id, command: `echo ${id}` });

/** An input file in the temporary home; returns its path. */
function inputFile(name: string, text: string): string {
  writeFileSync(join(home.home, name), text);
  return join(home.home, name);
}

describe("enqueue -f of files from Windows tools", () => {
  test("an error at the end of a file keeps its line and column, LF or CRLF", async () => {
    refused(
      await cli(["enqueue", "-f", inputFile("cut.json", '{"id":"a",\n"command":"x"')]),
      "cut.json:2:14:",
    );
    refused(
      await cli(["enqueue", "-f", inputFile("open.json", '[{"id":"a","command":"x"},\n')]),
      "open.json:1:27:",
    );
    refused(
      await cli(["enqueue", "-f", inputFile("crlf.json", '[{"id":"a","command":"x"},\r\n')]),
      // The file's own end: after its last line break, as the bytes are.
      "crlf.json:2:1:",
    );
    expect(await list()).toEqual([]);
  });

  test("byte-order marks from Windows tools: UTF-8 and UTF-16 (PowerShell's Out-File)", async () => {
    const utf16 = Buffer.concat([
      Buffer.from([0xff, 0xfe]),
      Buffer.from(JSON.stringify(job("ps")), "utf16le"),
    ]);
    const path16 = join(home.home, "ps.json");
    writeFileSync(path16, utf16);
    succeeded(await cli(["enqueue", "-f", path16]));
    succeeded(await cli(["enqueue", "-f", inputFile("bom.json", `\ufeff${JSON.stringify(job("bom"))}`)]));
    succeeded(
      await cli(
        ["enqueue", "-f", "-"],
        `\ufeff${JSON.stringify(job("stdin"))}\n${JSON.stringify(job("two"))}`,
      ),
    );
    expect((await list()).map((j) => j.id)).toEqual(["ps", "bom", "stdin", "two"]);
    const latin1 = join(home.home, "latin1.json");
    writeFileSync(latin1, Buffer.from('{"id":"caf\xe9","command":"x"}', "latin1"));
    refused(await cli(["enqueue", "-f", latin1]), "is not UTF-8 text");
    expect(await list()).toHaveLength(4);
  });

  test("Windows line endings (CRLF) in YAML and JSON files, whatever the last value is", async () => {
    const utf16 = Buffer.concat([
      Buffer.from([0xff, 0xfe]),
      Buffer.from('id: ps\r\ncommand: "echo x"\r\n', "utf16le"),
    ]);
    const path16 = join(home.home, "ps.yaml");
    writeFileSync(path16, utf16);
    succeeded(await cli(["enqueue", "-f", path16]));
    succeeded(await cli(["enqueue", "-f", inputFile("quoted.yaml", 'id: q\r\ncommand: "echo hi"\r\n')]));
    succeeded(await cli(["enqueue", "-f", inputFile("list.yaml", "- id: l\r\n  command: [echo, b]\r\n")]));
    succeeded(await cli(["enqueue", "-f", "-", "--format", "yaml"], "id: s\r\ncommand: 'echo s'\r\n"));
    succeeded(await cli(["enqueue", "-f", inputFile("crlf.json", `${JSON.stringify(job("j"))}\r\n`)]));
    const jobs = await list();
    expect(jobs.map((j) => j.id)).toEqual(["ps", "q", "l", "s", "j"]);
    expect(jobs.map((j) => j.command)).toEqual(["echo x", "echo hi", ["echo", "b"], "echo s", "echo j"]);
  });
});
