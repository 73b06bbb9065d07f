/**
 * Dashboard sessions: after a login with an admin credential, the browser holds only a random
 * session id in an HttpOnly, SameSite=Strict cookie (Secure under TLS); the id maps to the admin
 * here, in this process's memory. Each session has a CSRF token the page must send back on every
 * state-changing request (a page on another site cannot read it). Sessions end at logout, after
 * IDLE_MS without a request, or ABSOLUTE_MS after login, whichever comes first; at most MAX_SESSIONS
 * live at once (the oldest goes first). A restart ends every session.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { AdminRole } from "../manifest/index.ts";

/** A session ends this long after its last request. */
export const IDLE_MS = 30 * 60_000;
/** …and this long after login, however busy. */
export const ABSOLUTE_MS = 8 * 3_600_000;
const MAX_SESSIONS = 1000;

export interface Session {
  readonly id: string;
  readonly admin: string;
  readonly role: AdminRole;
  readonly csrf: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  lastSeen: number;
}

export interface Sessions {
  /** Starts a session for `admin`. */
  open(admin: string, role: AdminRole, now?: number): Session;
  /** The live session with this id (its idle clock restarted), or undefined. */
  get(id: string | undefined, now?: number): Session | undefined;
  close(id: string): void;
  /** Whether `token` is the session's CSRF token (constant time). */
  csrfMatches(session: Session, token: string | undefined): boolean;
}

export function createSessions(): Sessions {
  const live = new Map<string, Session>();
  return {
    open(admin, role, now = Date.now()) {
      if (live.size >= MAX_SESSIONS) {
        const oldest = live.keys().next().value;
        if (oldest !== undefined) live.delete(oldest);
      }
      const session: Session = {
        id: randomBytes(32).toString("base64url"),
        admin,
        role,
        csrf: randomBytes(32).toString("base64url"),
        createdAt: now,
        expiresAt: now + ABSOLUTE_MS,
        lastSeen: now,
      };
      live.set(session.id, session);
      return session;
    },
    get(id, now = Date.now()) {
      if (id === undefined) return undefined;
      const session = live.get(id);
      if (session === undefined) return undefined;
      if (now >= session.expiresAt || now - session.lastSeen >= IDLE_MS) {
        live.delete(id);
        return undefined;
      }
      session.lastSeen = now;
      return session;
    },
    close(id) {
      live.delete(id);
    },
    csrfMatches(session, token) {
      if (token === undefined) return false;
      const a = Buffer.from(session.csrf);
      const b = Buffer.from(token);
      return a.length === b.length && timingSafeEqual(a, b);
    },
  };
}
