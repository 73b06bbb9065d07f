/**
 * `palisade completion bash|zsh|fish`: scripts generated from the program's command tree. The bash
 * script is sourced in a real bash and asked for completions as bash itself asks (COMP_WORDS,
 * COMP_CWORD, the function `complete -p` names); zsh and fish (not installed here) are checked to
 * name every top-level command `palisade --help` lists.
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
