/**
 * The logged-in admin as every page sees it: who, which role (what to offer), the CSRF token for
 * changes, and a way to end the session when the API says it has ended. Buttons a role may not use
 * are not drawn at all; the API refuses them anyway (403), so hiding them is courtesy, not defence.
 */
import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { Role } from "./types.ts";

export interface Session {
  readonly admin: string;
  readonly role: Role;
  readonly csrf: string;
  readonly app: string;
  /** Back to the login form, saying why (the API answered 401: logged out elsewhere, idle, expired). */
  readonly expire: (why: string) => void;
}

export const SessionContext = createContext<Session | undefined>(undefined);

/** The session of the page; only pages inside the logged-in shell call this. */
export function useSession(): Session {
  const session = useContext(SessionContext);
  if (session === undefined) throw new Error("useSession outside a session");
  return session;
}

const ORDER: readonly Role[] = ["viewer", "operator", "admin"];

/** Whether `role` may do what `needed` may (roles are ordered: viewer < operator < admin). */
export function allows(role: Role, needed: Role): boolean {
  return ORDER.indexOf(role) >= ORDER.indexOf(needed);
}
