// Who is signed in, kept in localStorage so a reload (even mid-answer) stays signed in. Only what is not secret:
// the session token itself is in an HttpOnly cookie that no script, ours or an injected one, can read.
import type { LoginResponse } from "./types";

export interface Session {
  username: string;
  expiresAt: number; // seconds since the epoch
}

const KEY = "parley.session";

export function loadSession(storage: Storage = localStorage, now: number = Date.now()): Session | null {
  try {
    const raw = storage.getItem(KEY);
    if (!raw) return null;
    const value = JSON.parse(raw) as Partial<Session> & { token?: unknown };
    // An entry from before the cookie still holds a token: wipe it, and log in again to get the cookie.
    if ("token" in value || typeof value.username !== "string" || typeof value.expiresAt !== "number" || value.expiresAt * 1000 <= now) {
      storage.removeItem(KEY);
      return null;
    }
    return { username: value.username, expiresAt: value.expiresAt };
  } catch {
    return null;
  }
}

export function saveSession(login: LoginResponse, storage: Storage = localStorage): Session {
  const session = { username: login.username, expiresAt: login.expires_at };
  storage.setItem(KEY, JSON.stringify(session));
  return session;
}

export function clearSession(storage: Storage = localStorage): void {
  storage.removeItem(KEY);
}
