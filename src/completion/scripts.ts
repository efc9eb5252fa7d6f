/**
 * The completion scripts for bash, zsh and fish, written from the completion model.
 * Commands and flags are written into the script; job ids and queue names change all the
 * time, so the script asks `queuectl completion --ids` / `--queues` for them as the user
 * presses TAB (with the same --db, when one was typed).
 */

import { type CompletionModel, groups, topWords } from "./model.ts";

export const SHELLS = ["bash", "zsh", "fish"] as const;
export type Shell = (typeof SHELLS)[number];

const quoteWords = (words: string[]) => words.join(" ");

/**
 * The bash functions; zsh runs the same ones through bashcompinit. The words come from
 * COMP_LINE rather than COMP_WORDS: bash splits COMP_WORDS at `=` and `:`, which `--db=PATH`,
 * `--state=failed` and the ids of schedule occurrences (`backup@2026-…T02:00:00.000Z`)
 * contain. Offers are whole words, trimmed at the end the way readline inserts them.
 */
function bashFunction(model: CompletionModel): string {
  const flagCases = model.commands
    .map((command) => `    "${command.name}") flags="${quoteWords(command.flags)}" ;;`)
    .join("\n");
  const kind = (kind: string) =>
    model.commands
      .filter((command) => command.argument === kind)
      .map((command) => `"${command.name}"`)
      .join("|") || '"-"';
  const groupCases = [...groups(model)]
    .map(
      ([group, subs]) =>
        `    ${group}) [[ -z "$sub" ]] && { COMPREPLY=($(compgen -W "${quoteWords(subs)}" -- "$cur")); return; }; key="$cmd $sub" ;;`,
    )
    .join("\n");
  return `_queuectl_lines() {
  # Each output line that starts with $cur, matched as it is (compgen -W would run $(…),
  # \`…\`, $VAR and globs in a job id, which anyone who can queue a job names, and split it
  # at blanks) and offered quoted, so the line it goes into runs with the id as one word.
  # What was typed is matched without its backslashes: an offer taken in part (a common
  # prefix) is in the line quoted.
  local item plain="\${cur//\\\\/}"
  while IFS= read -r item; do
    [[ "$item" == "$plain"* ]] && _queuectl_quote "$item" && COMPREPLY+=("$REPLY")
  done < <("$@" 2>/dev/null)
}

_queuectl_quote() {
  # REPLY: $1 with a backslash before each character but letters, digits and _.,:=@/+%^-
  # (in the C locale before each byte of a non-ASCII letter too, which the shell reads back
  # as that byte). Character by character, unlike printf %q (which writes $'…' for such
  # text), so a prefix of an id quotes to a prefix of its quoted form.
  local text="$1" c i
  REPLY=""
  for ((i = 0; i < \${#text}; i++)); do
    c="\${text:$i:1}"
    case "$c" in
      [![:alnum:]_.,:=@/+%^-]) REPLY+="\\\\$c" ;;
      *) REPLY+="$c" ;;
    esac
  done
}

_queuectl_offers() {
  local cmd="" sub="" db="" word i
  for ((i = 1; i < \${#words[@]} - 1; i++)); do
    word="\${words[i]}"
    if [[ "$word" == "--" ]]; then
      # add -- CMD ARGS…: a program, then its arguments.
      if [[ "$prev" == "--" ]]; then COMPREPLY=($(compgen -c -- "$cur")); else COMPREPLY=($(compgen -f -- "$cur")); fi
      return
    fi
    if [[ "$word" == "--db" ]]; then db="\${words[i+1]}"; ((i++)); continue; fi
    if [[ "$word" == --db=* ]]; then db="\${word#--db=}"; continue; fi
    [[ "$word" == -* ]] && continue
    if [[ -z "$cmd" ]]; then cmd="$word"; elif [[ -z "$sub" ]]; then sub="$word"; fi
  done
  local ask=(queuectl); [[ -n "$db" ]] && ask+=(--db "\${db/#~/$HOME}")
  case "$prev" in
    ${model.queueFlags.join("|")}) _queuectl_lines "\${ask[@]}" completion --queues; return ;;
    ${model.jobFlags.join("|")}) _queuectl_lines "\${ask[@]}" completion --ids; return ;;
    ${model.stateFlags.join("|")}) COMPREPLY=($(compgen -W "${quoteWords([...model.states])}" -- "$cur")); return ;;
    ${model.fileFlags.join("|")}) COMPREPLY=($(compgen -f -- "$cur")); return ;;
  esac
  if [[ -z "$cmd" ]]; then
    if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "${quoteWords([...model.globalFlags, "--help", "--version"])}" -- "$cur"))
    else COMPREPLY=($(compgen -W "${quoteWords(topWords(model))}" -- "$cur")); fi
    return
  fi
  local key="$cmd" flags=""
  case "$cmd" in
${groupCases}
  esac
  if [[ "$cur" == -* ]]; then
    case "$key" in
${flagCases}
    esac
    COMPREPLY=($(compgen -W "$flags ${quoteWords(model.globalFlags)}" -- "$cur"))
    return
  fi
  case "$key" in
    ${kind("job")}) _queuectl_lines "\${ask[@]}" completion --ids ;;
    ${kind("queue")}) _queuectl_lines "\${ask[@]}" completion --queues ;;
    ${kind("file")}) COMPREPLY=($(compgen -f -- "$cur")) ;;
    ${kind("shell")}) COMPREPLY=($(compgen -W "${quoteWords([...SHELLS])}" -- "$cur")) ;;
  esac
}

_queuectl() {
  # $COMP_POINT, $((…)) and $at in offsets: zsh would read :C or :a as modifiers.
  local line="\${COMP_LINE:0:$COMP_POINT}" words=()
  if [[ -n "\${ZSH_VERSION-}" ]]; then words=(\${=line}); else read -ra words <<< "$line"; fi
  [[ -z "$line" || "$line" == *[[:space:]] ]] && words+=("")
  local whole="\${words[\${#words[@]}-1]}" prev="\${words[\${#words[@]}-2]}" prefix="" cur
  # --state=fa completes like --state fa.
  if [[ "$whole" == --*=* ]]; then prev="\${whole%%=*}"; prefix="$prev="; fi
  cur="\${whole#"$prefix"}"
  COMPREPLY=()
  _queuectl_offers
  ((\${#COMPREPLY[@]})) || return 0
  COMPREPLY=("\${COMPREPLY[@]/#/$prefix}")
  # readline replaces only the text after the word's last break character (= or :).
  local at=\${#whole} char
  while ((at > 0)); do
    char="\${whole:$((at - 1)):1}"
    [[ ( "$char" == "=" || "$char" == ":" ) && "$COMP_WORDBREAKS" == *"$char"* ]] && break
    ((at--))
  done
  if ((at > 0)); then
    # Offers are quoted: what is cut off is the typed part before the break, quoted alike.
    local head="\${whole:0:$at}"
    _queuectl_quote "\${head//\\\\/}"
    COMPREPLY=("\${COMPREPLY[@]#"$REPLY"}")
  fi
  return 0
}`;
}

function bash(model: CompletionModel): string {
  return `# queuectl completion for bash. Install: mkdir -p ~/.local/share/bash-completion/completions && queuectl completion bash > ~/.local/share/bash-completion/completions/queuectl
${bashFunction(model)}
complete -F _queuectl queuectl
`;
}

function zsh(model: CompletionModel): string {
  return `# queuectl completion for zsh. Install: add  source <(queuectl completion zsh)  to ~/.zshrc,
# after compinit. It runs the bash completion through zsh's bashcompinit, so both shells
# complete alike.
autoload -U +X bashcompinit && bashcompinit
${bashFunction(model)}
complete -F _queuectl queuectl
`;
}

function fishQuote(text: string): string {
  return `'${text.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}

function fish(model: CompletionModel): string {
  const top = topWords(model);
  const lines = [
    "# queuectl completion for fish. Install: mkdir -p ~/.config/fish/completions && queuectl completion fish > ~/.config/fish/completions/queuectl.fish",
    "complete -c queuectl -f",
    // add -- CMD ARGS…: fish completes the words after -- as a command line of their own.
    "function __queuectl_after_dashes; set -l words (commandline -opc) (commandline -ct); set -l at (contains -i -- -- $words); and __fish_complete_subcommand --commandline $words[(math $at + 1)..-1]; end",
    'complete -c queuectl -n "__fish_seen_subcommand_from add; and contains -- -- (commandline -opc)" -a "(__queuectl_after_dashes)"',
    "function __queuectl_ask; set -l db (string match -r -- '--db[= ]?(\\S+)' (commandline -opc | string join ' '))[2]; if test -n \"$db\"; queuectl --db $db $argv 2>/dev/null; else; queuectl $argv 2>/dev/null; end; end",
  ];
  const described = new Map<string, string>();
  for (const command of model.commands) {
    const word = command.name.split(" ")[0] ?? "";
    if (!described.has(word))
      described.set(word, command.name.includes(" ") ? `${word} commands` : command.description);
  }
  for (const word of top) {
    lines.push(
      `complete -c queuectl -n "not __fish_seen_subcommand_from ${top.join(" ")}" -a ${word} -d ${fishQuote(described.get(word) ?? "")}`,
    );
  }
  for (const [group, subs] of groups(model)) {
    lines.push(
      `complete -c queuectl -n "__fish_seen_subcommand_from ${group}; and not __fish_seen_subcommand_from ${subs.join(" ")}" -a ${fishQuote(subs.join(" "))}`,
    );
  }
  for (const command of model.commands) {
    const words = command.name.split(" ");
    const seen = words.map((word) => `__fish_seen_subcommand_from ${word}`).join("; and ");
    for (const flag of command.flags) lines.push(`complete -c queuectl -n "${seen}" -l ${flag.slice(2)}`);
    const dynamic =
      command.argument === "job"
        ? "(__queuectl_ask completion --ids)"
        : command.argument === "queue"
          ? "(__queuectl_ask completion --queues)"
          : undefined;
    if (dynamic)
      lines.push(`complete -c queuectl -n "${seen}" -a ${fishQuote(dynamic).replace(/^'|'$/g, '"')}`);
    if (command.argument === "file") lines.push(`complete -c queuectl -n "${seen}" -F`);
    if (command.argument === "shell")
      lines.push(`complete -c queuectl -n "${seen}" -a ${fishQuote(SHELLS.join(" "))}`);
  }
  for (const flag of model.globalFlags) lines.push(`complete -c queuectl -l ${flag.slice(2)}`);
  lines.push(`complete -c queuectl -l state -x -a ${fishQuote(model.states.join(" "))}`);
  lines.push(`complete -c queuectl -l queue -x -a "(__queuectl_ask completion --queues)"`);
  for (const flag of model.jobFlags)
    lines.push(`complete -c queuectl -l ${flag.slice(2)} -x -a "(__queuectl_ask completion --ids)"`);
  return `${lines.join("\n")}\n`;
}

export function completionScript(shell: Shell, model: CompletionModel): string {
  return shell === "bash" ? bash(model) : shell === "zsh" ? zsh(model) : fish(model);
}
