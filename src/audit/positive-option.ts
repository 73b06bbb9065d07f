import { PalisadeError } from "../errors.ts";
import { AUDIT_BAD_OPTIONS } from "./errors.ts";

/** An audit option that must be a whole number of at least 1, or a named error. */
export function positiveOption(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new PalisadeError(
      AUDIT_BAD_OPTIONS,
      `Audit option ${name} must be a positive whole number, not ${value}`,
    );
  }
  return value;
}
