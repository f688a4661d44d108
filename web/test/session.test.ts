import { beforeEach, describe, expect, it } from "vitest";
import { clearSession, loadSession, saveSession } from "../src/api/session";

describe("session", () => {
  const later = Date.now() / 1000 + 3600;
  const storage = window.localStorage;
  beforeEach(() => storage.clear());

  it("keeps only who is signed in and until when, never a token", () => {
    saveSession({ token: "should-not-be-kept", username: "alice", expires_at: later }, storage);
    expect(storage.getItem("parley.session")).not.toContain("should-not-be-kept");
    expect(loadSession(storage)).toEqual({ username: "alice", expiresAt: later });
    clearSession(storage);
    expect(loadSession(storage)).toBeNull();
  });

  it("wipes a token left by an older version", () => {
    storage.setItem("parley.session", JSON.stringify({ token: "old.jwt.value", username: "alice", expiresAt: later }));
    expect(loadSession(storage)).toBeNull();
    expect(storage.getItem("parley.session")).toBeNull();
  });

  it("forgets an expired session", () => {
    saveSession({ token: null, username: "alice", expires_at: Date.now() / 1000 - 1 }, storage);
    expect(loadSession(storage)).toBeNull();
  });
});
