/**
 * Dashboard sessions: after a login with an admin credential, the browser holds only a random
 * session id in an HttpOnly, SameSite=Strict cookie (Secure under TLS); the id maps to the admin
 * here, in this process's memory. Each session has a CSRF token the page must send back on every
 * state-changing request (a page on another site cannot read it). Sessions end at logout, after
 * IDLE_MS without a request, or ABSOLUTE_MS after login, whichever comes first, and when the admin's
 * key is rotated through the API. At most MAX_PER_ADMIN per admin (that admin's oldest goes first)
 * and MAX_SESSIONS in all (ended ones go first). A restart ends every session.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { AdminRole } from "../manifest/index.ts";

/** A session ends this long after its last request. */
export const IDLE_MS = 30 * 60_000;
/** …and this long after login, however busy. */
export const ABSOLUTE_MS = 8 * 3_600_000;
const MAX_SESSIONS = 1000;
const MAX_PER_ADMIN = 16;

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
  /** Whether the session is still live, without counting as a request (a live stream asks this). */
  alive(id: string, now?: number): boolean;
  close(id: string): void;
  /** Ends every session of `admin` (its key was rotated). */
  closeAdmin(admin: string): void;
  /** Whether `token` is the session's CSRF token (constant time). */
  csrfMatches(session: Session, token: string | undefined): boolean;
}

export function createSessions(): Sessions {
  const live = new Map<string, Session>();
  const ended = (s: Session, now: number) => now >= s.expiresAt || now - s.lastSeen >= IDLE_MS;
  return {
    open(admin, role, now = Date.now()) {
      const mine = [...live.values()].filter((s) => s.admin === admin);
      if (mine.length >= MAX_PER_ADMIN && mine[0] !== undefined) live.delete(mine[0].id);
      if (live.size >= MAX_SESSIONS) {
        for (const s of live.values()) if (ended(s, now)) live.delete(s.id);
        // Still full: the oldest goes (each admin holds at most MAX_PER_ADMIN of them).
        const oldest = live.keys().next().value;
        if (live.size >= MAX_SESSIONS && oldest !== undefined) live.delete(oldest);
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
      if (ended(session, now)) {
        live.delete(id);
        return undefined;
      }
      session.lastSeen = now;
      return session;
    },
    alive(id, now = Date.now()) {
      const session = live.get(id);
      return session !== undefined && !ended(session, now);
    },
    close(id) {
      live.delete(id);
    },
    closeAdmin(admin) {
      for (const s of [...live.values()]) if (s.admin === admin) live.delete(s.id);
    },
    csrfMatches(session, token) {
      if (token === undefined) return false;
      const a = Buffer.from(session.csrf);
      const b = Buffer.from(token);
      return a.length === b.length && timingSafeEqual(a, b);
    },
  };
}
