/** Exit codes of every command (DESIGN §6); `exit-code.ts` maps error codes onto them. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
