/**
 * Where queuectl's command line and cac's parser disagree, in one place: two-word commands,
 * option values that look like options, kebab-case boolean flags, `--no-x` beside
 * `--x <value>`, and unknown options that cac reports camelCased. Everything here is a pure
 * function of the words typed and the options registered (negatedFlagsAsFalse adjusts the
 * options themselves), so each workaround has its own test (test/cli-argv.test.ts).
 */

/** What of a registered option these functions need; cac's Option has these fields. */
export interface OptionShape {
  names: string[];
  rawName: string;
  description?: string;
  isBoolean?: boolean;
  config?: { type?: unknown[] };
}

/**
 * cac's parser turns every value that looks like a number into one, so `--id 007` would
 * arrive as 7 and `--tag 1e3` as 1000. Options registered with `TEXT_OPTION` keep the
 * characters typed: their values are marked before parsing (so they no longer look like
 * numbers) and unmarked by cac's own per-value transform. They always arrive as arrays.
 */
const TEXT_MARK = "\uE000";
export function keepText(value: unknown): string | boolean {
  // A value-less `--id` parses as true; kept, so cac reports the value as missing.
  if (typeof value === "boolean") return value;
  const text = String(value);
  return text.startsWith(TEXT_MARK) ? text.slice(TEXT_MARK.length) : text;
}
export const TEXT_OPTION = { type: [keepText] };

/**
 * cac reports a missing value only when the option parsed as a lone `true`; a text option
 * parses as an array, so `--tag --` would reach the command as [true]. Returns the raw name
 * (`--tag <tag>`) of the first text option given without a value, for the same error.
 */
export function textOptionWithoutValue(
  options: OptionShape[],
  parsed: Record<string, unknown>,
): string | undefined {
  for (const option of options) {
    if (option.config?.type?.[0] !== keepText) continue;
    const values = option.names.flatMap((name) => parsed[name]);
    // `--token` alone parses as true, `--tag ""` as ""; `--no-token` as false, a choice of its own.
    if (values.includes(true) || values.includes("")) return option.rawName;
  }
  return undefined;
}

/**
 * Each option that takes a value, as typed before `--`, with the value typed for it: joined
 * (`--id=x`) or the next word. `consumeValues` skips that next word, which then is no option
 * of its own; without it every word is looked at.
 */
function* typedValueOptions(
  args: string[],
  options: OptionShape[],
  consumeValues: boolean,
): Generator<{ option: OptionShape; value: string | undefined }> {
  const end = args.indexOf("--");
  const words = end === -1 ? args : args.slice(0, end);
  for (let index = 0; index < words.length; index++) {
    const word = words[index] ?? "";
    if (!word.startsWith("-")) continue;
    const [typed = "", ...joined] = word.split("=");
    const name = camelCased(typed.replace(/^--?/, ""));
    // `--no-x` shares the name x with `--x <value>`; only the one that takes a value counts.
    const option = options.find(
      (candidate) => candidate.rawName.includes("<") && candidate.names.includes(name),
    );
    if (option === undefined) continue;
    yield { option, value: joined.length > 0 ? joined.join("=") : words[index + 1] };
    // `--id x`: the next word is the value, whatever it looks like.
    if (consumeValues && joined.length === 0) index++;
  }
}

/**
 * The first option typed with an empty value (`--id ''` or `--id=`) before `--`, as registered
 * (`--id <id>`), so that every command names it in one error. Left to cac, an empty value
 * reads as a missing one, and a text option's reaches the command as "".
 */
export function optionWithEmptyValue(args: string[], options: OptionShape[]): string | undefined {
  for (const { option, value } of typedValueOptions(args, options, false)) {
    if (value === "") return option.rawName;
  }
  return undefined;
}

/**
 * An option whose help says it repeats (`repeatable`, `repeat it or use a,b`): its values
 * combine. Read from the help so that what `--help` promises and what is accepted never differ.
 */
function isRepeatable(option: OptionShape): boolean {
  return /\brepeat/i.test(option.description ?? "");
}

/**
 * The first option that takes one value but was typed more than once before `--` (`--id a
 * --id b`, `-f a --file b`), by its long name (`--id`). Left to cac, the last value wins
 * silently, or with both spellings of one option the first. Repeatable options and flags are
 * left alone; `--no-x` beside `--x <value>` is a flag of its own. Read from the words typed,
 * once optionWithEmptyValue and textOptionWithoutValue found every value in its place.
 */
export function optionGivenTwice(args: string[], options: OptionShape[]): string | undefined {
  const seen = new Set<OptionShape>();
  for (const { option } of typedValueOptions(args, options, true)) {
    if (isRepeatable(option)) continue;
    if (seen.has(option)) return /--[^\s,<]+/.exec(option.rawName)?.[0] ?? option.rawName;
    seen.add(option);
  }
  return undefined;
}

/**
 * The first flag typed in a form cac would read its own way, before `--`: with a value
 * (`--dry-run=0` read as off) or as `--no-x` where no such option is registered (`--no-json`).
 */
export function flagTypedWithValue(args: string[], options: OptionShape[]): string | undefined {
  const end = args.indexOf("--");
  const words = end === -1 ? args : args.slice(0, end);
  const registered = new Set(options.flatMap((option) => option.rawName.match(/--[\w-]+/g) ?? []));
  const named = (name: string) => options.find((candidate) => candidate.names.includes(camelCased(name)));
  for (let index = 0; index < words.length; index++) {
    const [typed = "", ...joined] = (words[index] ?? "").split("=");
    if (!typed.startsWith("--")) continue;
    const option = named(typed.slice(2));
    if (option && /[<[]/.test(option.rawName)) {
      if (joined.length === 0) index++;
    } else if (typed.startsWith("--no-") && !registered.has(typed) && named(typed.slice(5))) {
      return words[index];
    } else if (option && joined.length > 0) return words[index];
  }
  return undefined;
}

/** What of a `--no-x` option negatedFlagsAsFalse changes; cac's Option has these fields. */
export interface NegatableOption {
  negated: boolean;
  isBoolean?: boolean;
  config: { default?: unknown };
}

/**
 * For a command with both `--x <value>` and `--no-x`, so that `--no-x` reads as exactly false
 * and neither flag as undefined. cac gives a `--no-x` flag a default of true, which the command
 * could not tell from `--x true`. And keepDashValues spells boolean kebab flags `--flag=true`,
 * which turns `--no-x` into an option mri names `x=true`; not boolean, it is left as typed,
 * and mri reads it as x=false by itself. Changes the options in place, before parsing.
 */
export function negatedFlagsAsFalse(options: NegatableOption[]): void {
  for (const option of options) {
    if (!option.negated) continue;
    option.config.default = undefined;
    option.isBoolean = false;
  }
}

/** `queuectl help [command]` reads as `queuectl [command] --help`; `args` are the words after the program. */
export function helpAsOption(args: string[]): string[] {
  return args[0] === "help" ? [...args.slice(1), "--help"] : args;
}

/**
 * `--help` or `-h` anywhere, even after `--` (where cac would not see it): it only makes every
 * command module load and a command group print its list, which is harmless when not needed.
 */
export function asksForHelp(args: string[]): boolean {
  return args.includes("--help") || args.includes("-h");
}

export const VERSION_FLAGS = ["--version", "-v", "-V"];

/** Only a lone `--version` (or `-v`, `-V`) prints the version; cac would want a command with it. */
export function asksForVersion(args: string[]): boolean {
  return args.length === 1 && VERSION_FLAGS.includes(args[0] ?? "");
}

/**
 * When cac matched no command, an option before the command word that is not one of
 * `globalNames` (`db`, `debug`) took the next word as its value (`--verbose status`, `--dbx x
 * status`). Returns it as typed, without its value, so the error names it, not the command.
 */
export function unknownLeadingOption(args: string[], globalNames: string[]): string | undefined {
  const option = args
    .slice(0, commandIndex(args))
    .find((arg) => arg.startsWith("-") && !globalNames.includes(arg.replace(/^--?|=.*$/g, "")));
  return option?.split("=")[0];
}

/**
 * cac's arguments as typed: keepDashValues marks a negative number among them, which cac
 * would otherwise read as an option (`config set max-retries -1`).
 */
export function unmarkedArguments(args: readonly unknown[]): string[] {
  return args.map((arg) => String(keepText(arg)));
}

/**
 * After `--` every word is an argument, so that `queuectl show -- -rf` finds job "-rf"; cac
 * sets those words aside in `options["--"]`. Returns the arguments with them appended.
 */
export function withWordsAfterDashes(args: readonly string[], afterDashes: unknown): string[] {
  // cac keeps them as typed, strings all; String() only satisfies the type.
  return Array.isArray(afterDashes) ? [...args, ...afterDashes.map(String)] : [...args];
}

/** The option cac's "Unknown option `--maxRetries`" error reports, or undefined for its other errors. */
export function reportedUnknownOption(message: string): string | undefined {
  return /^Unknown option `(.+)`/.exec(message)?.[1];
}

/** A negative number or duration (`-1`, `-5`, `-1d`): a value, though it starts like an option. */
const NEGATIVE_NUMBER = /^-\d/;

const GLOBAL_OPTIONS_WITH_VALUE = new Set(["--db"]);

/**
 * A global option typed with an empty value (`--db ''`, `--db=`) or none (`--db` last, or
 * before another option). cac cannot report these: mri reads `--db=` as "the value is the
 * next word", so `queuectl --db '' list` asked for a store named "list" and no command, and
 * cac checks values only once a command matched, so a lone `queuectl --db` had none.
 */
export function globalOptionWithoutValue(args: string[]): { option: string; empty: boolean } | undefined {
  const end = args.indexOf("--");
  const words = end === -1 ? args : args.slice(0, end);
  for (let index = 0; index < words.length; index++) {
    const [option = "", ...value] = (words[index] ?? "").split("=");
    if (!GLOBAL_OPTIONS_WITH_VALUE.has(option)) continue;
    if (value.length > 0) {
      if (value.join("=") === "") return { option, empty: true };
      continue;
    }
    const next = words[index + 1];
    if (next === "") return { option, empty: true };
    // keepDashValues keeps "-" and a negative number as the value; any other option is not one.
    if (next === undefined || (next.startsWith("-") && next !== "-" && !NEGATIVE_NUMBER.test(next)))
      return { option, empty: false };
    index++;
  }
  return undefined;
}

/**
 * `--db` as typed, the last one before `--` (as cac keeps the last): cac's parser would turn
 * a store named `007` into the number 7, and open a file named 7. Undefined when not given.
 */
export function typedStoreOption(args: string[]): string | undefined {
  const end = args.indexOf("--");
  const words = end === -1 ? args : args.slice(0, end);
  let typed: string | undefined;
  for (let index = 0; index < words.length; index++) {
    const word = words[index] ?? "";
    if (word.startsWith("--db=")) typed = word.slice("--db=".length);
    else if (word === "--db" && index + 1 < words.length) typed = words[++index];
  }
  return typed;
}

/** The index of the command word, past any global options before it. */
export function commandIndex(args: string[]): number {
  let index = 0;
  while (index < args.length && (args[index] ?? "").startsWith("-")) {
    index += GLOBAL_OPTIONS_WITH_VALUE.has(args[index] ?? "") ? 2 : 1;
  }
  return index;
}

/**
 * cac matches one word per command, so `worker start` is registered as one name and the two
 * typed words are joined. Returns the joined words, or the group and the word that is not
 * one of its subcommands (undefined when none was given).
 */
export function joinGroupWords(
  args: string[],
  groups: Record<string, string[]>,
): { args: string[] } | { group: string; sub: string | undefined } {
  const index = commandIndex(args);
  const group = args[index];
  if (group === undefined || !(group in groups)) return { args };
  const sub = args[index + 1];
  if (sub !== undefined && (groups[group] ?? []).includes(sub)) {
    return { args: [...args.slice(0, index), `${group} ${sub}`, ...args.slice(index + 2)] };
  }
  return { group, sub };
}

/**
 * `-f -` means "read stdin", but cac's parser takes a lone `-` for a missing value. Joining it
 * as `-f=-` keeps the convention working for every option that takes a value. A negative
 * number is joined the same way (`--older-than=-1d`), and as a command's argument
 * (`config set max-retries -1`) it is marked like a text value, so that it reaches the command's
 * own check, not reported as an unknown option `-1`; unmarkedArguments takes the mark off.
 *
 * cac also tells its parser about boolean flags by their camelCase names only, so a
 * kebab-case flag takes the next word as its value: `sync --allow-shared-folder DIR` would
 * lose DIR and sync ./jobs. Such flags are written `--flag=true`.
 */
export function keepDashValues(args: string[], options: OptionShape[]): string[] {
  const takesValue = new Set<string>();
  const kebabFlags = new Set<string>();
  const textOptions = new Set<string>();
  const optionWords = new Set<string>();
  for (const option of options) {
    // As registered (camelCased: dryRun) and as typed (--dry-run).
    for (const name of option.names) optionWords.add(name.length === 1 ? `-${name}` : `--${name}`);
    for (const typed of option.rawName.matchAll(/--[\w-]+|-\w\b/g)) optionWords.add(typed[0]);
    if (option.config?.type?.[0] === keepText) for (const name of option.names) textOptions.add(name);
    if (!option.isBoolean) for (const name of option.names) takesValue.add(name);
    else
      for (const match of option.rawName.matchAll(/--([a-z0-9]+(?:-[a-z0-9]+)+)/g))
        kebabFlags.add(match[1] ?? "");
  }
  // Before the command word, a word like -1 is a mistyped global option and stays one.
  const firstArgument = commandIndex(args) + 1;
  const result: string[] = [];
  // The word after `--db`: cac's parser takes it as that option's value.
  let valueNext = false;
  for (let index = 0; index < args.length; index++) {
    const arg = args[index] ?? "";
    if (arg === "--") return [...result, ...args.slice(index)];
    if (valueNext) {
      valueNext = false;
      result.push(arg);
      continue;
    }
    const name = arg.replace(/^--?/, "");
    const next = args[index + 1];
    // cac's names are camelCased: `--older-than` is registered as olderThan.
    const isValueOption = arg.startsWith("-") && !arg.includes("=") && takesValue.has(camelCased(name));
    const [typedName = "", ...valueParts] = name.split("=");
    if (arg.startsWith("-") && textOptions.has(camelCased(typedName))) {
      if (valueParts.length > 0) result.push(`${arg.split("=")[0]}=${TEXT_MARK}${valueParts.join("=")}`);
      // `--id --` and `--token --port 0` have no value; the -- or the option still count as such.
      else if (next === undefined || next === "--" || optionWords.has(next.split("=")[0] ?? ""))
        result.push(arg);
      else {
        result.push(`${arg}=${TEXT_MARK}${next}`);
        index++;
      }
      continue;
    }
    // An empty value ('') would reach the command as the number 0; as --flag= it is "missing".
    if (isValueOption && next === "") {
      result.push(`${arg}=`);
      index++;
    } else if (isValueOption && next !== undefined && (next === "-" || NEGATIVE_NUMBER.test(next))) {
      // "-" (stdin) and negative numbers would otherwise parse as options of their own.
      result.push(`${arg}=${next}`);
      index++;
    } else if (arg.startsWith("--") && kebabFlags.has(name)) {
      result.push(`${arg}=true`);
    } else if (index >= firstArgument && NEGATIVE_NUMBER.test(arg) && !optionWords.has(arg)) {
      result.push(`${TEXT_MARK}${arg}`);
    } else if (index >= firstArgument && !arg.startsWith("-")) {
      // An argument right after a flag (`show --json 007`) would reach the command as the
      // number 7: cac's parser converts what a boolean flag passes on. Marked, it stays text.
      result.push(`${TEXT_MARK}${arg}`);
    } else {
      result.push(arg);
      valueNext = isValueOption;
    }
  }
  return result;
}

/** cac's own conversion of an option name: `max-retries` → `maxRetries` (dots kept). */
function camelCased(name: string): string {
  const [first = "", ...rest] = name.split(".");
  return [
    first.replaceAll(/([a-z])-([a-z])/g, (_, a: string, b: string) => a + b.toUpperCase()),
    ...rest,
  ].join(".");
}

/**
 * The option as the user typed it, for cac's "Unknown option `--maxRetries`": the first typed
 * word before `--` whose camelCased name is the reported one. Falls back to the reported name.
 */
export function typedOption(reported: string, args: string[]): string {
  const wanted = reported.replace(/^--?/, "");
  const end = args.indexOf("--");
  for (const arg of end === -1 ? args : args.slice(0, end)) {
    if (!arg.startsWith("-")) continue;
    const typed = arg.split("=")[0] ?? arg;
    const name = typed.replace(/^--?/, "");
    // `-abc` sets a, b and c; the user typed the whole cluster.
    if (camelCased(name) === wanted || (!typed.startsWith("--") && name.includes(wanted))) return typed;
    if (typed.startsWith("--no-") && camelCased(name.slice(3)) === wanted) return typed;
  }
  return reported;
}

/** Every long option a command knows, as typed: `--max-retries`, for "did you mean" hints. */
export function longOptionNames(options: OptionShape[]): string[] {
  return options.flatMap((option) =>
    [...option.rawName.matchAll(/--[a-z0-9][a-z0-9-]*/gi)].map((match) => match[0]),
  );
}
