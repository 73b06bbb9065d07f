/**
 * Operator commands through a running gateway's admin API instead of the app's files: `--url
 * <gateway>` (or PALISADE_URL) with an admin's API key from PALISADE_ADMIN_KEY or
 * `--admin-key-file`. The answers are the same data the local commands read, so they print the same.
 * A key is only ever sent over HTTPS, or plain HTTP to a loopback address.
 */
import { readFileSync } from "node:fs";
import { type Command, Option } from "commander";
import { PalisadeError } from "../errors.ts";
import { usageError } from "./usage-error.ts";

/** The flags of a command that can work through the admin API. */
export interface AdminUrlFlags {
  url?: string;
  adminKeyFile?: string;
}

/** Adds `--url` and `--admin-key-file` to an operator command. */
export function withAdminUrl(command: Command): Command {
  return command
    .addOption(
      new Option(
        "--url <gateway>",
        "work through the admin API of the running gateway at this URL (https://, or http:// on loopback) instead of the app's files; the admin key comes from PALISADE_ADMIN_KEY or --admin-key-file",
      ).env("PALISADE_URL"),
    )
    .option("--admin-key-file <file>", "a file holding an admin's API key (with --url)");
}

/** The API's error code when the gateway could not be reached. */
export const CLI_UNREACHABLE = "PAL_CLI_UNREACHABLE";

/** Calls the admin API; resolves to the parsed JSON, or throws the API's error (code and message). */
export async function adminApi<T>(
  flags: AdminUrlFlags & { url: string },
  method: "GET" | "POST",
  path: string,
  body?: unknown,
): Promise<T> {
  const base = gatewayUrl(flags.url);
  const key = adminKey(flags);
  let res: Response;
  try {
    res = await fetch(new URL(`/admin/v1${path}`, base), {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(method === "POST" ? { "content-type": "application/json" } : {}),
      },
      ...(method === "POST" ? { body: JSON.stringify(body ?? {}) } : {}),
      signal: AbortSignal.timeout(60_000),
    });
  } catch (err) {
    throw new PalisadeError(
      CLI_UNREACHABLE,
      `Cannot reach the gateway at ${base.origin}: ${(err as Error).message}; is it running (palisade dev / start), and is --url right?`,
    );
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new PalisadeError(
      CLI_UNREACHABLE,
      `${base.origin} answered ${res.status} with something that is not the admin API`,
    );
  }
  if (res.ok) return parsed as T;
  const error = (parsed as { error?: { code?: unknown; message?: unknown } }).error;
  throw new PalisadeError(
    typeof error?.code === "string" ? error.code : "PAL_CLI_ADMIN_API",
    `${typeof error?.message === "string" ? error.message : `HTTP ${res.status}`} (${method} ${base.origin}/admin/v1${path.split("?")[0]})`,
    { status: res.status },
  );
}

/** `--url` as a URL, refused unless it keeps the admin key out of the clear (HTTPS, or HTTP to loopback). */
export function gatewayUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw usageError(
      `--url "${text}" is not a URL; give the gateway's address, like https://palisade.example:8787`,
    );
  }
  const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
  if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback))
    throw usageError(
      `--url "${url.origin}" would send the admin key in the clear: use https://, or http:// only to a loopback address`,
    );
  return url;
}

function adminKey(flags: AdminUrlFlags): string {
  const key = givenAdminKey(flags);
  if (key === undefined)
    throw usageError(
      "--url needs an admin's API key: set PALISADE_ADMIN_KEY or pass --admin-key-file (export PALISADE_ADMIN_KEY=$(palisade secrets get PALISADE_ADMIN_KEY --reveal --to-pipe) for the dev one)",
    );
  return key;
}

/** The admin key from `--admin-key-file`, else PALISADE_ADMIN_KEY; undefined when neither gives one. */
export function givenAdminKey(flags: AdminUrlFlags): string | undefined {
  if (flags.adminKeyFile !== undefined) {
    try {
      const key = readFileSync(flags.adminKeyFile, "utf8").trim();
      if (key !== "") return key;
    } catch (err) {
      throw usageError(`Cannot read --admin-key-file "${flags.adminKeyFile}": ${(err as Error).message}`);
    }
    throw usageError(`--admin-key-file "${flags.adminKeyFile}" is empty`);
  }
  const key = process.env.PALISADE_ADMIN_KEY?.trim();
  return key === undefined || key === "" ? undefined : key;
}
