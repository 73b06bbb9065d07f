/**
 * `palisade completion bash|zsh|fish`: scripts generated from the program's command tree. The bash
 * script is sourced in a real bash and asked for completions as bash itself asks (COMP_WORDS,
 * COMP_CWORD, the function `complete -p` names); the zsh script runs its completion function in a
 * real zsh (with compsys's output builtins stubbed to print), the fish one answers fish's own
 * `complete -C`. CI installs zsh and fish; without them those two tests skip.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { Command } from "commander";
import { completionScript } from "../src/cli/completion.ts";
import { palisade } from "./kit/cli-run.ts";
import { tempApp } from "./kit/temp-app.ts";

/**
 * What bash completes for each line in `lines` (the words typed, the last one being completed), with
 * `script` sourced: the function `complete -p` registered for the command is called as bash would.
 */
function bashCompletions(script: string, dir: string, command: string, lines: string[][]): string[][] {
  const file = join(dir, "completion.bash");
  writeFileSync(file, script);
  const probe = `
source ${JSON.stringify(file)} || exit 3
spec=$(complete -p ${command}) || exit 4
fn=\${spec#*-F }; fn=\${fn%% *}
ask() { COMP_WORDS=("$@"); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); COMPREPLY=(); "$fn"; echo "\${COMPREPLY[*]}"; }
${lines.map((words) => `ask ${words.map((w) => `'${w}'`).join(" ")}`).join("\n")}
`;
  const run = spawnSync("bash", ["--norc", "--noprofile", "-c", probe], { encoding: "utf8" });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stderr, "");
  return run.stdout
    .split("\n")
    .slice(0, lines.length)
    .map((l) => (l === "" ? [] : l.split(" ")));
}

test("the bash script, sourced in bash, completes commands, subcommands, options and their choices", async (t) => {
  const dir = tempApp(t, {});
  const run = await palisade(["completion", "bash"]);
  assert.equal(run.status, 0, run.stderr);
  const spec = spawnSync(
    "bash",
    ["--norc", "-c", `source /dev/stdin <<'EOF'\n${run.stdout}\nEOF\ncomplete -p palisade`],
    {
      encoding: "utf8",
    },
  );
  assert.match(spec.stdout, /^complete -o default -F \S+ palisade$/m);
  const [dl, dlq, format, shells, limit, afterValue, secrets] = bashCompletions(run.stdout, dir, "palisade", [
    ["palisade", "dl"],
    ["palisade", "dlq", ""],
    ["palisade", "check", "--format", ""],
    ["palisade", "completion", ""],
    ["palisade", "dlq", "list", "--app", "x", "--li"],
    ["palisade", "dlq", "list", "--app", ""],
    ["palisade", "secrets", "get", "NAME", "--re"],
  ]);
  assert.deepEqual(dl, ["dlq"]);
  assert.deepEqual(dlq, ["list", "replay"]);
  assert.deepEqual(format, ["text", "json", "sarif"]);
  assert.deepEqual(shells, ["bash", "zsh", "fish"]);
  assert.deepEqual(limit, ["--limit"], "an option's value (x) is not taken for a subcommand");
  assert.deepEqual(afterValue, [], "a free value (--app dir) is left to bash's file completion");
  assert.deepEqual(secrets, ["--reveal"]);
});

test("the zsh and fish scripts name every top-level command palisade --help lists", async () => {
  const help = await palisade(["--help"]);
  const commands = [...(help.stdout.split("Commands:\n")[1] ?? "").matchAll(/^ {2}([a-z][\w-]*)/gm)].map(
    (m) => m[1] ?? "",
  );
  assert.ok(commands.includes("dlq") && commands.includes("completion") && commands.length > 15);
  const zsh = (await palisade(["completion", "zsh"])).stdout;
  const fish = (await palisade(["completion", "fish"])).stdout;
  assert.match(zsh, /^#compdef palisade$/m);
  for (const name of commands) {
    assert.ok(zsh.includes(`'${name}:`), `zsh completes ${name}`);
    assert.ok(fish.includes(`-n '__palisade_at \\'\\'' -a '${name}'`), `fish completes ${name}`);
  }
  assert.match(fish, /-n '__palisade_at \\'dlq\\'' -a 'replay'/);
  assert.match(fish, /-n '__palisade_at \\'check\\'' -l 'format' -x -a 'text json sarif'/);
});

const HAS = (shell: string) => spawnSync(shell, ["-c", "exit 0"]).status === 0;

test("the zsh script, run in zsh, completes commands, subcommands and option choices", {
  skip: HAS("zsh") ? false : "zsh is not installed",
}, async (t) => {
  const script = join(tempApp(t, {}), "_palisade");
  writeFileSync(script, (await palisade(["completion", "zsh"])).stdout);
  // compsys's builtins print what they would offer: _describe the named array, compadd -a likewise.
  const ask = (...words: string[]) =>
    spawnSync(
      "zsh",
      [
        "-f",
        "-c",
        `compdef() {}; _describe() { print -rl -- "\${(@P)4}" }; compadd() { print -rl -- "\${(@P)2}" }
         _files() { print -- FILES }; source ${script}; words=(palisade ${words.map((w) => `'${w}'`).join(" ")})
         CURRENT=${words.length + 1}; _palisade`,
      ],
      { encoding: "utf8" },
    );
  const top = ask("dl");
  assert.equal(top.status, 0, top.stderr);
  assert.ok(
    top.stdout.split("\n").some((l) => l.startsWith("dlq:")),
    top.stdout.slice(0, 300),
  );
  assert.deepEqual(
    ask("dlq", "")
      .stdout.trim()
      .split("\n")
      .map((l) => l.split(":")[0]),
    ["list", "replay"],
  );
  assert.deepEqual(ask("check", "--format", "").stdout.trim().split("\n"), ["text", "json", "sarif"]);
  assert.equal(ask("send", "--app", "").stdout.trim(), "FILES", "a free value goes to file completion");
});

test("the fish script, sourced in fish, answers fish's own complete -C", {
  skip: HAS("fish") ? false : "fish is not installed",
}, async (t) => {
  const script = join(tempApp(t, {}), "palisade.fish");
  writeFileSync(script, (await palisade(["completion", "fish"])).stdout);
  const ask = (line: string) =>
    spawnSync("fish", ["--no-config", "-c", `source ${script}; complete -C '${line}'`], { encoding: "utf8" })
      .stdout.trim()
      .split("\n")
      .map((l) => l.split("\t")[0]);
  assert.deepEqual(ask("palisade dl"), ["dlq"]);
  assert.deepEqual(ask("palisade dlq "), ["list", "replay"]);
  assert.deepEqual(ask("palisade check --format ").sort(), ["json", "sarif", "text"]);
});

test("a command added to a program completes with no edit to the generator", (t) => {
  const program = new Command("tool");
  const deploy = program.command("deploy").description("ship it");
  deploy
    .command("canary")
    .option("--region <r>", "where")
    .addOption(program.createOption("--speed <s>", "how fast").choices(["slow", "fast"]));
  program.command("status").option("--json", "print JSON");
  const [top, sub, speed] = bashCompletions(completionScript(program, "bash"), tempApp(t, {}), "tool", [
    ["tool", ""],
    ["tool", "deploy", "ca"],
    ["tool", "deploy", "canary", "--region", "eu", "--speed", ""],
  ]);
  assert.deepEqual(top, ["deploy", "status", "help"]);
  assert.deepEqual(sub, ["canary"]);
  assert.deepEqual(speed, ["slow", "fast"]);
  assert.match(
    completionScript(program, "fish"),
    /-n '__tool_at \\'deploy canary\\'' -l 'speed' -x -a 'slow fast'/,
  );
  assert.throws(
    () => completionScript(program, "tcsh"),
    /Cannot complete for shell "tcsh"; use one of bash, zsh, fish/,
  );
});
