/**
 * The matrix expansion as a pure function: the product and its order, derived ids,
 * substitution in every string field, include/exclude, and each kind of bad matrix.
 */

// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${{ matrix.KEY }}` in plain strings is the syntax under test
import { describe, expect, test } from "bun:test";
import {
  type ExpandedJob,
  expandMatrix,
  MAX_MATRIX_JOBS,
  type MatrixExpansion,
} from "../../src/core/matrix.ts";

function jobs(expansion: MatrixExpansion): ExpandedJob[] {
  if ("problem" in expansion) throw new Error(`unexpected problem: ${expansion.problem.message}`);
  return expansion.jobs;
}

function ids(job: Record<string, unknown>, fallbackId = "file"): string[] {
  return jobs(expandMatrix(job, fallbackId)).map((expanded) => String(expanded.value.id));
}

function problem(job: Record<string, unknown>) {
  const expansion = expandMatrix(job, "file");
  if (!("problem" in expansion)) throw new Error("expected a problem");
  return expansion.problem;
}

describe("the product", () => {
  test("is every combination, the last key (alphabetically) varying fastest", () => {
    const expanded = jobs(
      expandMatrix({ id: "build", command: "make", matrix: { size: ["s", "m"], region: ["eu", "us"] } }, "x"),
    );
    expect(expanded.map((job) => job.cell)).toEqual([
      { region: "eu", size: "s" },
      { region: "eu", size: "m" },
      { region: "us", size: "s" },
      { region: "us", size: "m" },
    ]);
    expect(expanded.map((job) => job.value.id)).toEqual([
      "build-eu-s",
      "build-eu-m",
      "build-us-s",
      "build-us-m",
    ]);
    for (const job of expanded) expect("matrix" in job.value).toBe(false);
  });

  test("gives ids that do not depend on the order keys are written in", () => {
    const a = ids({ id: "b", command: "x", matrix: { region: ["eu"], size: ["s"] } });
    const b = ids({ id: "b", command: "x", matrix: { size: ["s"], region: ["eu"] } });
    expect(a).toEqual(["b-eu-s"]);
    expect(b).toEqual(a);
  });

  test("gives a cell the same id whatever the other values are", () => {
    const before = ids({ id: "b", command: "x", matrix: { region: ["eu", "us"] } });
    const after = ids({ id: "b", command: "x", matrix: { region: ["ap", "us"] } });
    expect(before).toContain("b-us");
    expect(after).toContain("b-us");
  });

  test("takes the file's id when the declaration has none, and numbers as text", () => {
    expect(ids({ command: "x", matrix: { n: [1, 2], on: [true] } }, "nightly/build")).toEqual([
      "nightly/build-1-true",
      "nightly/build-2-true",
    ]);
  });
});

describe("placeholders", () => {
  test("are replaced in every string: id, command (both forms), env values, tags, cwd, after", () => {
    const [job] = jobs(
      expandMatrix(
        {
          id: "deploy-${{ matrix.region }}",
          command: ["deploy", "--region=${{matrix.region}}"],
          env: { REGION: "${{ matrix.region }}", "${{ matrix.region }}": "kept" },
          tags: ["${{ matrix.region }}"],
          cwd: "/srv/${{ matrix.region }}",
          after: ["build-${{ matrix.region }}"],
          matrix: { region: ["eu"] },
        },
        "x",
      ),
    );
    expect(job?.value).toEqual({
      id: "deploy-eu",
      command: ["deploy", "--region=eu"],
      env: { REGION: "eu", "${{ matrix.region }}": "kept" },
      tags: ["eu"],
      cwd: "/srv/eu",
      after: ["build-eu"],
    });
  });

  test("keep a value's type when the string is nothing but one placeholder", () => {
    const [job] = jobs(
      expandMatrix({ command: "x ${{ matrix.n }}", max_retries: "${{ matrix.n }}", matrix: { n: [2] } }, "j"),
    );
    expect(job?.value).toEqual({ id: "j-2", command: "x 2", max_retries: 2 });
  });

  test("with placeholders, the id is the substituted one; without, it takes a suffix", () => {
    expect(
      ids({
        id: "${{ matrix.size }}-${{ matrix.region }}",
        command: "x",
        matrix: { region: ["eu"], size: ["s"] },
      }),
    ).toEqual(["s-eu"]);
    expect(ids({ id: 7, command: "x", matrix: { region: ["eu"] } })).toEqual(["7-eu"]);
  });

  test("naming an unknown key is a problem at the field, with a suggestion", () => {
    expect(problem({ command: "echo ${{ matrix.regoin }}", matrix: { region: ["eu"] } })).toEqual({
      field: "command",
      message: "`command` uses `${{ matrix.regoin }}`, but the matrix has no key `regoin`",
      hint: "did you mean `region`?",
    });
    expect(
      problem({ command: "x", env: { A: "${{ matrix.zone }}" }, matrix: { region: ["eu"] } }).field,
    ).toBe("env.A");
  });
});

describe("include and exclude", () => {
  test("exclude drops the combinations an entry matches", () => {
    expect(
      ids({
        id: "b",
        command: "x",
        matrix: { region: ["eu", "us"], size: ["s", "m"], exclude: [{ region: "us", size: "m" }] },
      }),
    ).toEqual(["b-eu-s", "b-eu-m", "b-us-s"]);
  });

  test("include adds values to the combinations it agrees with, without renaming them", () => {
    const expanded = jobs(
      expandMatrix(
        {
          id: "b",
          command: "make ${{ matrix.flags }}",
          matrix: { region: ["eu", "us"], include: [{ region: "eu", flags: "--fast" }] },
        },
        "x",
      ),
    );
    expect(expanded.map((job) => [job.value.id, job.value.command])).toEqual([
      ["b-eu", "make --fast"],
      ["b-us", "make "],
    ]);
  });

  test("include adds a new combination when it agrees with none", () => {
    expect(
      ids({
        id: "b",
        command: "x",
        matrix: { region: ["eu"], size: ["s"], include: [{ region: "ap", size: "xl" }] },
      }),
    ).toEqual(["b-eu-s", "b-ap-xl"]);
    expect(
      ids({ id: "b", command: "x", matrix: { include: [{ os: "linux", arch: "arm" }, { os: "mac" }] } }),
    ).toEqual(["b-arm-linux", "b-mac"]);
  });

  test("an exclude that leaves nothing, or names an unknown key, is a problem", () => {
    expect(problem({ command: "x", matrix: { region: ["eu"], exclude: [{ region: "eu" }] } }).field).toBe(
      "matrix.exclude",
    );
    expect(problem({ command: "x", matrix: { region: ["eu"], exclude: [{ regoin: "eu" }] } }).hint).toBe(
      "did you mean `region`?",
    );
  });
});

describe("a bad matrix", () => {
  const cases: [string, unknown, string, RegExp][] = [
    ["not a mapping", ["eu"], "matrix", /must be a mapping/],
    ["no keys", {}, "matrix", /has no lists/],
    ["an empty list", { region: [] }, "matrix.region", /is an empty list/],
    ["a value that is no list", { region: "eu" }, "matrix.region", /must be a list/],
    ["a mapping as a value", { region: [{ name: "eu" }] }, "matrix.region", /holds a mapping/],
    ["a list as a value", { region: [["eu"]] }, "matrix.region", /holds a list/],
    ["an empty value", { region: [null] }, "matrix.region", /holds an empty value/],
    ["a number that is not finite", { n: [Number.NaN] }, "matrix.n", /holds a number that is not finite/],
    ["an empty mapping in include", { n: [1], include: [{}] }, "matrix.include", /holds an empty mapping/],
    ["a value twice", { region: ["eu", "eu"] }, "matrix.region", /lists "eu" twice/],
    ["a key a placeholder cannot name", { "re.gion": ["eu"] }, "matrix.re.gion", /cannot name/],
    [
      "include that is no list",
      { region: ["eu"], include: { region: "us" } },
      "matrix.include",
      /list of mappings/,
    ],
  ];
  for (const [name, matrix, field, message] of cases) {
    test(`is refused: ${name}`, () => {
      const found = problem({ command: "x", matrix });
      expect(found.field).toBe(field);
      expect(found.message).toMatch(message);
    });
  }

  test(`is refused past ${MAX_MATRIX_JOBS} jobs, counted before anything is built`, () => {
    const many = Array.from({ length: 100 }, (_, index) => index);
    expect(ids({ command: "x", matrix: { a: many.slice(0, 16), b: many.slice(0, 16) } })).toHaveLength(256);
    const found = problem({ command: "x", matrix: { a: many, b: many, c: many, d: many } });
    expect(found.field).toBe("matrix");
    expect(found.message).toBe("`matrix` makes 100000000 jobs, more than the 256 one declaration may make");
    expect(
      problem({ command: "x", matrix: { a: many.slice(0, 16), b: many.slice(0, 16), include: [{ a: 99 }] } })
        .field,
    ).toBe("matrix");
  });

  test("is refused when two cells come out with one id", () => {
    const templated = problem({
      id: "b-${{ matrix.region }}",
      command: "x",
      matrix: { region: ["eu"], size: ["s", "m"] },
    });
    expect(templated).toEqual({
      field: "id",
      message: '`matrix` gives two jobs the id "b-eu" (region=eu, size=s; region=eu, size=m)',
      hint: "use a placeholder for every list key in the `id`",
    });
    expect(problem({ id: "b", command: "x", matrix: { n: [1, "1"] } }).field).toBe("matrix.n");
  });
});
