import { InvalidArgumentError } from "commander";

/** A flag value that must be a whole number of at least 1, or commander's usage error naming the flag. */
export function parsePositive(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError(`${flag} takes a positive whole number, not "${value}"`);
  return n;
}
