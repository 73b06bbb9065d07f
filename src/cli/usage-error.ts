import { PalisadeError } from "../errors.ts";

export const CLI_USAGE = "PAL_CLI_USAGE";

/** A mistake in how a command was called: exit code 2. */
export function usageError(message: string): PalisadeError {
  return new PalisadeError(CLI_USAGE, message, { status: 400 });
}
