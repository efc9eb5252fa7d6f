import { describe, expect, test } from "bun:test";
import { cac } from "cac";
import {
  asksForHelp,
  asksForVersion,
  commandIndex,
  flagTypedWithValue,
  globalOptionWithoutValue,
  helpAsOption,
  joinGroupWords,
  keepDashValues,
  keepText,
  longOptionNames,
  negatedFlagsAsFalse,
  type OptionShape,
  optionGivenTwice,
  reportedUnknownOption,
  TEXT_OPTION,
  textOptionWithoutValue,
  typedOption,
  typedStoreOption,
  unknownLeadingOption,
  unmarkedArguments,
  withWordsAfterDashes,
} from "../src/cli-argv.ts";
import { editDistance, nearestName } from "../src/core/errors.ts";

const OPTIONS: OptionShape[] = [
  { names: ["f", "file"], rawName: "-f, --file <path>", isBoolean: false },
  { names: ["limit"], rawName: "--limit <n>", isBoolean: false },
  { names: ["allowSharedFolder", "allow-shared-folder"], rawName: "--allow-shared-folder", isBoolean: true },
  { names: ["json"], rawName: "--json", isBoolean: true },
];

describe("help and version", () => {
  test("`help [command]` reads as `[command] --help`", () => {
    expect(helpAsOption(["help"])).toEqual(["--help"]);
    expect(helpAsOption(["help", "worker", "start"])).toEqual(["worker", "start", "--help"]);
    expect(helpAsOption(["show", "help"])).toEqual(["show", "help"]);
  });
  test("--help and -h count anywhere, even after --", () => {
    expect(asksForHelp(["list", "-h"])).toBe(true);
    expect(asksForHelp(["add", "--", "grep", "--help"])).toBe(true);
    expect(asksForHelp(["list", "--helpful"])).toBe(false);
  });
  test("only a lone version flag asks for the version", () => {
    expect(["--version", "-v", "-V"].map((flag) => asksForVersion([flag]))).toEqual([true, true, true]);
    expect(asksForVersion(["list", "-v"])).toBe(false);
    expect(asksForVersion([])).toBe(false);
  });
});

describe("unknownLeadingOption", () => {
  const globals = ["db", "debug"];
  test("names the option that swallowed the command word, without its value", () => {
    expect(unknownLeadingOption(["--verbose", "status"], globals)).toBe("--verbose");
    expect(unknownLeadingOption(["--db", "x.db", "--colour=never"], globals)).toBe("--colour");
    expect(unknownLeadingOption(["-q"], globals)).toBe("-q");
  });
  test("global options are not unknown", () => {
    expect(unknownLeadingOption(["--db=x.db", "--debug"], globals)).toBeUndefined();
    expect(unknownLeadingOption([], globals)).toBeUndefined();
  });
});

describe("withWordsAfterDashes", () => {
  test("appends what cac set aside after --", () => {
    expect(withWordsAfterDashes(["show"], ["-rf", "007"])).toEqual(["show", "-rf", "007"]);
  });
  test("leaves the arguments alone when there is nothing after --", () => {
    expect(withWordsAfterDashes(["show", "a"], [])).toEqual(["show", "a"]);
    expect(withWordsAfterDashes(["show", "a"], undefined)).toEqual(["show", "a"]);
  });
});

test("reportedUnknownOption reads cac's unknown-option error and nothing else", () => {
  expect(reportedUnknownOption("Unknown option `--maxRetries`")).toBe("--maxRetries");
  expect(reportedUnknownOption("option `--limit <n>` value is missing")).toBeUndefined();
});

describe("commandIndex", () => {
  test("skips global options, and --db with its value", () => {
    expect(commandIndex(["--db", "x.db", "--debug", "list"])).toBe(3);
    expect(commandIndex(["list"])).toBe(0);
  });
});

describe("joinGroupWords", () => {
  const groups = { worker: ["start", "stop"] };
  test("joins a group and its subcommand into cac's one command name", () => {
    expect(joinGroupWords(["--db", "a", "worker", "start", "--count", "2"], groups)).toEqual({
      args: ["--db", "a", "worker start", "--count", "2"],
    });
  });
  test("reports an unknown or missing subcommand", () => {
    expect(joinGroupWords(["worker", "strat"], groups)).toEqual({ group: "worker", sub: "strat" });
    expect(joinGroupWords(["worker"], groups)).toEqual({ group: "worker", sub: undefined });
  });
  test("leaves other commands alone", () => {
    expect(joinGroupWords(["list", "worker"], groups)).toEqual({ args: ["list", "worker"] });
  });
});

describe("keepDashValues", () => {
  test("a lone - and negative numbers stay values of the option before them", () => {
    expect(keepDashValues(["enqueue", "-f", "-"], OPTIONS)).toEqual(["enqueue", "-f=-"]);
    expect(keepDashValues(["list", "--limit", "-1"], OPTIONS)).toEqual(["list", "--limit=-1"]);
  });
  test("an empty value is written --flag= so it reads as missing, not 0", () => {
    expect(keepDashValues(["list", "--limit", ""], OPTIONS)).toEqual(["list", "--limit="]);
  });
  test("kebab-case boolean flags do not swallow the next word", () => {
    expect(unmarkedArguments(keepDashValues(["sync", "--allow-shared-folder", "dir"], OPTIONS))).toEqual([
      "sync",
      "--allow-shared-folder=true",
      "dir",
    ]);
  });
  test("nothing after -- is touched", () => {
    expect(keepDashValues(["add", "--", "-f", "-"], OPTIONS)).toEqual(["add", "--", "-f", "-"]);
  });
  test("before the command word, a negative number stays a (mistyped) option", () => {
    expect(keepDashValues(["-1", "list"], OPTIONS)).toEqual(["-1", "list"]);
  });
});

describe("negative numbers through cac", () => {
  /** The arguments and options a command gets, parsed the way the program parses them. */
  function parse(words: string[]): { args: string[]; options: Record<string, unknown> } {
    const cli = cac("t");
    cli.option("--db <url>", "");
    cli.command("config set <key> <value>", "");
    cli.command("purge", "").option("--older-than <duration>", "").option("--dry-run", "");
    cli.command("list", "").option("--json", "");
    cli.command("show <id>", "").option("--json", "");
    const options = [...cli.globalCommand.options, ...cli.commands.flatMap((command) => command.options)];
    const parsed = cli.parse(["bun", "t", ...keepDashValues(words, options)], { run: false });
    return { args: unmarkedArguments(parsed.args), options: parsed.options };
  }
  test("a command's argument reaches it as typed, not as an option", () => {
    const set = parse(["config set", "max-retries", "-1"]);
    expect(set.args).toEqual(["max-retries", "-1"]);
    expect(set.options["1"]).toBeUndefined();
    expect(parse(["--db", "x.db", "config set", "backoff-max", "-5"]).args).toEqual(["backoff-max", "-5"]);
    expect(parse(["config set", "max-retries", "5"]).args).toEqual(["max-retries", "5"]);
  });
  test("a kebab-case option takes a negative value: cac registers it camelCased", () => {
    const purge = parse(["purge", "--older-than", "-1d", "--dry-run"]);
    expect([purge.options.olderThan, purge.args]).toEqual(["-1d", []]);
  });
  test("an empty kebab-case value is missing, not 0", () => {
    expect(parse(["purge", "--older-than", ""]).options.olderThan).toBe(true);
  });
  test("real options are still options", () => {
    expect(parse(["list", "--json"])).toEqual({ args: [], options: { "--": [], json: true } });
  });
  test("an argument after a flag stays text: cac's parser would make 007 the number 7", () => {
    for (const id of ["007", "0x2F", "1e3", "true", "false"]) {
      expect(parse(["show", "--json", id])).toEqual({ args: [id], options: { "--": [], json: true } });
      expect(parse(["--db", "x.db", "show", id, "--json"]).args).toEqual([id]);
    }
  });
});

test("typedStoreOption: --db as typed, spaced or joined, the last one, none after --", () => {
  expect(typedStoreOption(["--db", "007", "list"])).toBe("007");
  expect(typedStoreOption(["list", "--db=0x1F"])).toBe("0x1F");
  expect(typedStoreOption(["--db", "a.db", "list", "--db", "b.db"])).toBe("b.db");
  expect(typedStoreOption(["add", "--", "--db", "x"])).toBeUndefined();
  expect(typedStoreOption(["list"])).toBeUndefined();
});

describe("globalOptionWithoutValue", () => {
  test("an empty --db, spaced or joined, is empty", () => {
    expect(globalOptionWithoutValue(["--db", "", "list"])).toEqual({ option: "--db", empty: true });
    expect(globalOptionWithoutValue(["--db=", "list"])).toEqual({ option: "--db", empty: true });
    expect(globalOptionWithoutValue(["list", "--db", ""])).toEqual({ option: "--db", empty: true });
  });
  test("--db last, or before another option, has no value", () => {
    expect(globalOptionWithoutValue(["--db"])).toEqual({ option: "--db", empty: false });
    expect(globalOptionWithoutValue(["list", "--db", "--json"])).toEqual({ option: "--db", empty: false });
    expect(globalOptionWithoutValue(["add", "--db", "--", "true"])).toEqual({ option: "--db", empty: false });
  });
  test("a value, and words after --, are fine", () => {
    expect(globalOptionWithoutValue(["--db", "x.db", "list"])).toBeUndefined();
    expect(globalOptionWithoutValue(["--db=sqlite://x.db", "list"])).toBeUndefined();
    expect(globalOptionWithoutValue(["--debug", "list"])).toBeUndefined();
    expect(globalOptionWithoutValue(["add", "--", "cmd", "--db"])).toBeUndefined();
  });
});

describe("text options", () => {
  const text: OptionShape[] = [
    { names: ["id"], rawName: "--id <id>", isBoolean: false, config: TEXT_OPTION },
  ];
  test("values are marked so cac keeps them as typed, and keepText unmarks them", () => {
    const spaced = keepDashValues(["add", "--id", "007", "--", "x"], text);
    const joined = keepDashValues(["add", "--id=1e3", "--", "x"], text);
    const value = (args: string[]) => args[1]?.slice("--id=".length) ?? "";
    expect(Number.isNaN(Number(value(spaced)))).toBe(true);
    expect([keepText(value(spaced)), keepText(value(joined))]).toEqual(["007", "1e3"]);
    expect(spaced.slice(2)).toEqual(["--", "x"]);
    expect(keepText(true)).toBe(true);
  });
  test("a text option parsed without a value is named, so it is refused rather than read as true", () => {
    const tag: OptionShape = {
      names: ["tag"],
      rawName: "--tag <tag>",
      isBoolean: false,
      config: TEXT_OPTION,
    };
    expect(textOptionWithoutValue([...text, tag], { tag: ["a", true] })).toBe("--tag <tag>");
    expect(textOptionWithoutValue([...text, tag], { id: ["x"], tag: ["a"] })).toBeUndefined();
    expect(textOptionWithoutValue(OPTIONS, { limit: true })).toBeUndefined();
  });
  test("a missing value stays missing, and -- still ends the options", () => {
    expect(keepDashValues(["add", "--id", "--", "x"], text)).toEqual(["add", "--id", "--", "x"]);
    expect(keepDashValues(["add", "--id"], text)).toEqual(["add", "--id"]);
    const withLimit = [...text, ...OPTIONS];
    expect(keepDashValues(["add", "--id", "--limit", "2"], withLimit)).toEqual([
      "add",
      "--id",
      "--limit",
      "2",
    ]);
    expect(keepDashValues(["add", "--id", "-f=x"], withLimit)).toEqual(["add", "--id", "-f=x"]);
    expect(keepDashValues(["add", "--id", "--not-an-option"], withLimit)[1]).toStartWith("--id=");
  });
});

describe("optionGivenTwice", () => {
  const options: OptionShape[] = [
    ...OPTIONS,
    { names: ["id"], rawName: "--id <id>", description: "The job id" },
    { names: ["tag"], rawName: "--tag <tag>", description: "A tag; repeatable or a,b" },
    { names: ["state"], rawName: "--state <state>", description: "States; repeat it or use a,b" },
    { names: ["token"], rawName: "--token <token>" },
    { names: ["token"], rawName: "--no-token", isBoolean: true },
  ];
  test("an option that takes one value is named by its long name; repeatable ones, flags and values are not counted", () => {
    expect(optionGivenTwice(["add", "--id", "a", "--id", "b"], options)).toBe("--id");
    expect(optionGivenTwice(["add", "--tag", "a", "--tag", "b", "--id=a", "--id", "b"], options)).toBe(
      "--id",
    );
    expect(optionGivenTwice(["enqueue", "-f", "a", "--file=b"], options)).toBe("--file");
    const fine = [
      ["add", "--tag", "a", "--tag", "b", "--state", "x", "--state", "y", "--id", "i"],
      ["sync", "--json", "--json", "--allow-shared-folder", "--json"],
      ["add", "--tag", "--id", "--id", "x"],
      ["add", "--id", "a", "--", "cmd", "--id", "b"],
      ["dashboard", "--no-token", "--token", "t"],
    ];
    for (const args of fine) expect(optionGivenTwice(args, options)).toBeUndefined();
  });
});

describe("negatedFlagsAsFalse", () => {
  /** The options a `serve` command gets, parsed the way the program parses them. */
  function parse(words: string[], fix: boolean): Record<string, unknown> {
    const cli = cac("t");
    const command = cli
      .command("serve")
      .option("--token <token>", "", TEXT_OPTION)
      .option("--no-token", "")
      .option("--dry-run", "");
    if (fix) negatedFlagsAsFalse(command.options);
    const { options } = cli.parse(["bun", "t", ...keepDashValues(["serve", ...words], command.options)], {
      run: false,
    });
    return options;
  }
  test("--no-x reads as false and neither flag as undefined", () => {
    expect(parse([], true).token).toBeUndefined();
    expect(parse(["--no-token"], true).token).toEqual([false]);
    expect(parse(["--token", "abc"], true).token).toEqual(["abc"]);
  });
  test("without it cac would default --no-x to true and keepDashValues would break it", () => {
    expect(parse([], false).token).toBe(true);
    expect(parse(["--no-token"], false).token).toEqual([true]);
  });
  test("leaves the other options alone", () => {
    expect(parse(["--dry-run", "--no-token"], true).dryRun).toBe(parse(["--dry-run"], false).dryRun);
    expect(parse(["--token", "007"], true).token).toEqual(["007"]);
  });
});

describe("typedOption", () => {
  test("finds the kebab-case option cac reports camelCased", () => {
    expect(typedOption("--maxRetries", ["enqueue", "--max-retries", "3"])).toBe("--max-retries");
    expect(typedOption("--maxRetries", ["enqueue", "--max-retries=3"])).toBe("--max-retries");
  });
  test("names a short option cluster as typed", () => {
    expect(typedOption("-x", ["list", "-qx"])).toBe("-qx");
  });
  test("ignores words after --", () => {
    expect(typedOption("--maxRetries", ["add", "--", "--max-retries"])).toBe("--maxRetries");
  });
});

test("longOptionNames lists long names as typed", () => {
  expect(longOptionNames(OPTIONS)).toEqual(["--file", "--limit", "--allow-shared-folder", "--json"]);
});

describe("suggestions", () => {
  test("a swap of two neighbouring letters is one edit", () => {
    expect(editDistance("lsit", "list")).toBe(1);
    expect(editDistance("ab", "ba")).toBe(1);
    expect(editDistance("kitten", "sitting")).toBe(3);
    expect(editDistance("", "abc")).toBe(3);
  });
  test.each([
    ["lsit", "list"],
    ["shwo", "show"],
    ["dql", "dlq"],
    ["strat", "start"],
  ])("%s suggests %s", (typo, meant) => {
    expect(nearestName(typo, ["list", "show", "dlq", "start", "status", "stop"])).toBe(meant);
  });
});

describe("flagTypedWithValue", () => {
  const options: OptionShape[] = [
    { names: ["dryRun", "dry-run"], rawName: "--dry-run", isBoolean: true },
    { names: ["json"], rawName: "--json", isBoolean: true },
    { names: ["shell"], rawName: "--shell <line>" },
    { names: ["token"], rawName: "--token <token>" },
    { names: ["token"], rawName: "--no-token", isBoolean: true },
  ];
  test("a value joined to a flag, and --no-x for a flag with no such form, are named as typed", () => {
    expect(flagTypedWithValue(["purge", "--dry-run=0"], options)).toBe("--dry-run=0");
    expect(flagTypedWithValue(["list", "--json=false"], options)).toBe("--json=false");
    expect(flagTypedWithValue(["list", "--no-json"], options)).toBe("--no-json");
  });
  test("flags as typed, registered --no-x, values of options and words after -- pass", () => {
    for (const args of [
      ["purge", "--dry-run"],
      ["dashboard", "--no-token"],
      ["add", "--shell", "--json=1", "--json"],
      ["add", "--shell=--dry-run=0"],
      ["add", "--", "cmd", "--dry-run=0", "--no-json"],
      ["list", "--no-such"],
    ]) {
      expect({ args, found: flagTypedWithValue(args, options) }).toEqual({ args, found: undefined });
    }
  });
});
