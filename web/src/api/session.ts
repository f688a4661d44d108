// The signed-in session, kept in localStorage so a reload (even mid-answer) stays signed in.
import type { LoginResponse } from "./types";

export interface Session {
  token: string;
  username: string;
  expiresAt: number; // seconds since the epoch
}

const KEY = "parley.session";

export function loadSession(storage: Storage = localStorage, now: number = Date.now()): Session | null {
  try {
    const raw = storage.getItem(KEY);
    if (!raw) return null;
    const value = JSON.parse(raw) as Partial<Session>;
    if (typeof value.token !== "string" || typeof value.username !== "string") return null;
    if (typeof value.expiresAt !== "number" || value.expiresAt * 1000 <= now) {
      storage.removeItem(KEY);
      return null;
    }
    return { token: value.token, username: value.username, expiresAt: value.expiresAt };
  } catch {
    return null;
  }
}

export function saveSession(login: LoginResponse, storage: Storage = localStorage): Session {
  const session = { token: login.token, username: login.username, expiresAt: login.expires_at };
  storage.setItem(KEY, JSON.stringify(session));
  return session;
}

export function clearSession(storage: Storage = localStorage): void {
  storage.removeItem(KEY);
}
