/**
 * `palisade completion bash|zsh|fish`: a shell completion script generated from the program's own
 * command tree (commander's commands, options, option choices and argument choices), so a command or
 * flag added to the program completes without editing anything here. Each script finds the command
 * path in the words typed so far (skipping options and the values of options that take one), then
 * offers that command's subcommands, its options after `-`, the choices of an option's value, or the
 * choices of its first argument; anything else falls back to file names (app directories, @files).
 */
import type { Command, Option } from "commander";
import { EXIT_OK } from "./exit-codes.ts";
import { usageError } from "./usage-error.ts";

/** The shells a script can be generated for. */
export const COMPLETION_SHELLS = ["bash", "zsh", "fish"] as const;
export type CompletionShell = (typeof COMPLETION_SHELLS)[number];

/** One command of the tree, as the scripts need it. */
interface CompletionNode {
  /** Space-separated command path from the program ("" for the program itself, "dlq list"). */
  readonly path: string;
  readonly commands: readonly { readonly name: string; readonly description: string }[];
  readonly options: readonly CompletionOption[];
  /** Choices of the first argument (`completion <shell>`). */
  readonly argChoices: readonly string[];
}

interface CompletionOption {
  /** `-n`, `--lines`. */
  readonly names: readonly string[];
  readonly description: string;
  readonly takesValue: boolean;
  readonly choices: readonly string[];
}

/** `palisade completion <shell>`: prints the script for `shell`. */
export function printCompletion(program: Command, shell: string): number {
  process.stdout.write(completionScript(program, shell));
  return EXIT_OK;
}

/** The completion script of `program` for `shell`. */
export function completionScript(program: Command, shell: string): string {
  const nodes = collectNodes(program, "", []);
  const name = program.name();
  if (shell === "bash") return bashScript(name, nodes);
  if (shell === "zsh") return zshScript(name, nodes);
  if (shell === "fish") return fishScript(name, nodes);
  throw usageError(`Cannot complete for shell "${shell}"; use one of ${COMPLETION_SHELLS.join(", ")}`);
}

/** Every command of the tree under `cmd`, depth first; `help` only at the top, as commander adds it. */
function collectNodes(cmd: Command, path: string, out: CompletionNode[]): CompletionNode[] {
  const help = cmd.createHelp();
  const subs = help.visibleCommands(cmd).filter((c) => cmd.commands.includes(c));
  const commands = subs.flatMap((c) =>
    [c.name(), ...c.aliases()].map((name) => ({ name, description: oneLine(help.subcommandDescription(c)) })),
  );
  if (path === "" && subs.length > 0)
    commands.push({ name: "help", description: "display help for command" });
  out.push({
    path,
    commands,
    options: help.visibleOptions(cmd).map(optionOf),
    argChoices: cmd.registeredArguments[0]?.argChoices ?? [],
  });
  for (const c of subs) collectNodes(c, path === "" ? c.name() : `${path} ${c.name()}`, out);
  return out;
}

function optionOf(o: Option): CompletionOption {
  return {
    names: [o.short, o.long].filter((n): n is string => n !== undefined),
    description: oneLine(o.description),
    takesValue: o.required || o.optional,
    choices: o.argChoices ?? [],
  };
}

/** A description as one short line: up to its first "; ", at most 80 characters. */
function oneLine(text: string): string {
  const line = text.replace(/\s+/g, " ").trim().split("; ")[0] ?? "";
  return line.length > 80 ? `${line.slice(0, 79)}…` : line;
}

/** `text` single-quoted for bash and zsh (a backslash is literal there). */
function sq(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

/** `text` single-quoted for fish, where `\\` and `\'` are the escapes inside single quotes. */
function fq(text: string): string {
  return `'${text.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}

/** Lines of a `case` over the command path (bash and zsh syntax), one branch per non-empty entry. */
function caseLines(entries: readonly [string, string][], indent = "    "): string {
  return entries
    .filter(([, body]) => body !== "")
    .map(([key, body]) => `${indent}(${sq(key)}) ${body} ;;`)
    .join("\n");
}

const valueOptions = (n: CompletionNode): string[] =>
  n.options.filter((o) => o.takesValue).flatMap((o) => o.names);

function optionChoices(nodes: readonly CompletionNode[]): [string, string[]][] {
  return nodes.flatMap((n) =>
    n.options
      .filter((o) => o.choices.length > 0)
      .flatMap((o) => o.names.map((name): [string, string[]] => [`${n.path}|${name}`, [...o.choices]])),
  );
}

/** A name with its description, as the zsh and fish scripts show them. */
interface Described {
  readonly name: string;
  readonly description: string;
}

const optionItems = (n: CompletionNode): Described[] =>
  n.options.flatMap((o) => o.names.map((name) => ({ name, description: o.description })));

/**
 * The lookup functions the bash and zsh scripts share, each a `case` over the command path: its
 * subcommands, its options, those that take a value, and the choices of `path|option` (or of the
 * first argument, `path|`). `list` prints words; `describe` prints names with their descriptions.
 */
function shellTables(
  name: string,
  nodes: readonly CompletionNode[],
  list: (words: readonly string[]) => string,
  describe: (items: readonly Described[]) => string,
): string {
  const lookup = (what: string, entries: [string, string][]) =>
    `__${name}_${what}() {\n  case "$1" in\n${caseLines(entries)}\n  esac\n}\n`;
  return (
    lookup(
      "subcommands",
      nodes.map((n) => [n.path, describe(n.commands)]),
    ) +
    lookup(
      "options",
      nodes.map((n) => [n.path, describe(optionItems(n))]),
    ) +
    lookup(
      "value_options",
      nodes.map((n) => [n.path, list(valueOptions(n))]),
    ) +
    lookup("choices", [
      ...optionChoices(nodes).map(([key, choices]): [string, string] => [key, list(choices)]),
      ...nodes.map((n): [string, string] => [`${n.path}|`, list(n.argChoices)]),
    ])
  );
}

function bashScript(name: string, nodes: readonly CompletionNode[]): string {
  const words = (list: readonly string[]) => (list.length === 0 ? "" : `echo ${sq(list.join(" "))}`);
  return `# ${name} completion for bash, generated by \`${name} completion bash\` from the command tree.
# Load it: source <(${name} completion bash); keep it: ${name} completion bash > ~/.local/share/bash-completion/completions/${name}
${shellTables(name, nodes, words, (items) => words(items.map((i) => i.name)))}${bashDriver(name)}`;
}

/** The bash completion function: finds the command path in COMP_WORDS, then looks up what fits. */
function bashDriver(name: string): string {
  const fn = `_${name}_completion`;
  return `${fn}() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]} cmdpath="" w i
  local -i npos=0 skip=0
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    if ((skip)); then skip=0; continue; fi
    if [[ $w == -* ]]; then
      [[ $w != *=* && " $(__${name}_value_options "$cmdpath") " == *" $w "* ]] && skip=1
      continue
    fi
    if [[ " $(__${name}_subcommands "$cmdpath") " == *" $w "* ]]; then
      cmdpath=\${cmdpath:+$cmdpath }$w
      npos=0
    else
      npos+=1
    fi
  done
  COMPREPLY=()
  if ((skip)); then
    COMPREPLY=($(compgen -W "$(__${name}_choices "$cmdpath|$prev")" -- "$cur"))
  elif [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$(__${name}_options "$cmdpath")" -- "$cur"))
  elif [[ -n $(__${name}_subcommands "$cmdpath") ]]; then
    COMPREPLY=($(compgen -W "$(__${name}_subcommands "$cmdpath")" -- "$cur"))
  elif ((npos == 0)); then
    COMPREPLY=($(compgen -W "$(__${name}_choices "$cmdpath|")" -- "$cur"))
  fi
  return 0
}
complete -o default -F ${fn} ${name}
`;
}

function zshScript(name: string, nodes: readonly CompletionNode[]): string {
  const lines = (list: readonly string[]) =>
    list.length === 0 ? "" : `print -rl -- ${list.map(sq).join(" ")}`;
  const described = (items: readonly Described[]) => lines(items.map((i) => `${i.name}:${i.description}`));
  return `#compdef ${name}
# ${name} completion for zsh, generated by \`${name} completion zsh\` from the command tree.
# Load it: source <(${name} completion zsh); keep it: ${name} completion zsh > "\${fpath[1]}/_${name}"
${shellTables(name, nodes, lines, described)}${zshDriver(name)}`;
}

/** The zsh completion function (`words`, `CURRENT`), registered when sourced, run when autoloaded. */
function zshDriver(name: string): string {
  return `_${name}() {
  local cmdpath='' w
  local -i i npos=0 skip=0
  local -a subs vals choices described
  for (( i = 2; i < CURRENT; i++ )); do
    w=\${words[i]}
    if (( skip )); then skip=0; continue; fi
    if [[ $w == -* ]]; then
      vals=(\${(f)"$(__${name}_value_options "$cmdpath")"})
      [[ $w != *=* ]] && (( \${vals[(Ie)$w]} )) && skip=1
      continue
    fi
    subs=(\${(f)"$(__${name}_subcommands "$cmdpath")"})
    subs=(\${subs%%:*})
    if (( \${subs[(Ie)$w]} )); then cmdpath=\${cmdpath:+$cmdpath }$w; npos=0; else npos+=1; fi
  done
  if (( skip )); then
    choices=(\${(f)"$(__${name}_choices "$cmdpath|\${words[CURRENT-1]}")"})
    if (( \${#choices} )); then compadd -a choices; else _files; fi
    return
  fi
  if [[ \${words[CURRENT]} == -* ]]; then
    described=(\${(f)"$(__${name}_options "$cmdpath")"})
    _describe -t options option described
    return
  fi
  described=(\${(f)"$(__${name}_subcommands "$cmdpath")"})
  if (( \${#described} )); then _describe -t commands command described; return; fi
  choices=(\${(f)"$(__${name}_choices "$cmdpath|")"})
  if (( npos == 0 && \${#choices} )); then compadd -a choices; else _files; fi
}
if [[ "\${funcstack[1]}" == "_${name}" ]]; then _${name} "$@"; else compdef _${name} ${name}; fi
`;
}

function fishScript(name: string, nodes: readonly CompletionNode[]): string {
  const lines = (list: readonly string[]) =>
    list.length === 0 ? "" : `printf '%s\\n' ${list.map(fq).join(" ")}`;
  const lookup = (what: string, entries: [string, string][]) =>
    `function __${name}_${what}\n    switch "$argv[1]"\n${entries
      .filter(([, body]) => body !== "")
      .map(([key, body]) => `        case ${fq(key)}\n            ${body}`)
      .join("\n")}\n    end\nend\n`;
  return `# ${name} completion for fish, generated by \`${name} completion fish\` from the command tree.
# Load it: ${name} completion fish | source; keep it: ${name} completion fish > ~/.config/fish/completions/${name}.fish
${lookup(
  "subcommands",
  nodes.map((n) => [n.path, lines(n.commands.map((c) => c.name))]),
)}${lookup(
  "value_options",
  nodes.map((n) => [n.path, lines(valueOptions(n))]),
)}${fishDriver(name)}${nodes.flatMap((n) => fishCompletes(name, n)).join("\n")}
`;
}

/** `__<name>_path` (the command path in the words typed so far) and `__<name>_at PATH`. */
function fishDriver(name: string): string {
  return `function __${name}_path
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l cmdpath
    set -l skip 0
    for w in $tokens
        if test $skip = 1
            set skip 0
            continue
        end
        if string match -q -- '-*' $w
            if not string match -q -- '*=*' $w; and contains -- $w (__${name}_value_options "$cmdpath")
                set skip 1
            end
            continue
        end
        if contains -- $w (__${name}_subcommands "$cmdpath")
            set -a cmdpath $w
        end
    end
    echo "$cmdpath"
end
function __${name}_at
    set -l current (__${name}_path)
    test "$current" = "$argv[1]"
end
`;
}

/** The `complete` lines of one command: its subcommands (no files then), options, argument choices. */
function fishCompletes(name: string, n: CompletionNode): string[] {
  const at = `complete -c ${name} -n ${fq(`__${name}_at ${fq(n.path)}`)}`;
  return [
    ...(n.commands.length > 0 ? [`${at} -f`] : []),
    ...n.commands.map((c) => `${at} -a ${fq(c.name)} -d ${fq(c.description)}`),
    ...n.options.map((o) => {
      const flags = o.names.map((f) =>
        f.startsWith("--") ? `-l ${fq(f.slice(2))}` : `-s ${fq(f.slice(1))}`,
      );
      const value = o.choices.length > 0 ? ` -x -a ${fq(o.choices.join(" "))}` : o.takesValue ? " -r" : "";
      return `${at} ${flags.join(" ")}${value} -d ${fq(o.description)}`;
    }),
    ...(n.argChoices.length > 0 ? [`${at} -f -a ${fq(n.argChoices.join(" "))}`] : []),
  ];
}
