import { describe, expect, it, vi } from "vitest";
import { ApiClient, ApiError, parseRetryAfter } from "../src/api/client";
import { resolveConfig } from "../src/config";

function respond(status: number, body: unknown, headers: Record<string, string> = {}) {
  return vi.fn(async () => new Response(body === null ? null : JSON.stringify(body), { status, headers }));
}

describe("ApiClient", () => {
  it("relies on the session cookie: sends the CSRF header and same-origin credentials, never a token", async () => {
    const fetch = respond(200, { items: [], next_cursor: null });
    const api = new ApiClient({ baseUrl: "http://h:1/", fetch });
    await expect(api.listConversations({ limit: 30, cursor: null, q: "cats" })).resolves.toEqual({ items: [], next_cursor: null });
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe("http://h:1/api/conversations?limit=30&q=cats");
    const headers = init.headers as Record<string, string>;
    expect(headers["X-Parley-CSRF"]).toBe("1");
    expect(headers.Authorization).toBeUndefined();
    expect(init.credentials).toBe("same-origin");
  });

  it("asks login for the cookie", async () => {
    const fetch = respond(200, { token: null, username: "a", expires_at: 1 });
    const api = new ApiClient({ baseUrl: "http://h", fetch });
    await api.login("a", "b");
    const [, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(JSON.parse(init.body as string)).toEqual({ username: "a", password: "b", cookie: true });
    expect((init.headers as Record<string, string>)["X-Parley-CSRF"]).toBe("1");
  });

  it("turns the server's error body into an ApiError with its message", async () => {
    const api = new ApiClient({
      baseUrl: "http://h",
      fetch: respond(401, { error: { code: "invalid_credentials", message: "Wrong username or password." } }),
    });
    const error = await api.login("a", "b").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 401, code: "invalid_credentials", message: "Wrong username or password." });
  });

  it("reads Retry-After on throttling", async () => {
    const api = new ApiClient({
      baseUrl: "http://h",
      fetch: respond(429, { error: { code: "too_many_attempts", message: "Too many attempts." } }, { "Retry-After": "42" }),
    });
    await expect(api.login("a", "b")).rejects.toMatchObject({ status: 429, retryAfter: 42 });
  });

  it("says when the server cannot be reached", async () => {
    const api = new ApiClient({
      baseUrl: "http://h",
      fetch: vi.fn(async () => {
        throw new TypeError("Failed to fetch");
      }),
    });
    const error = (await api.health().catch((e: unknown) => e)) as ApiError;
    expect(error.isNetwork).toBe(true);
    expect(error.message).toMatch(/Cannot reach the server/);
  });

  it("ends the session on a 401 to a request made in the session, not to a failed login", async () => {
    const onUnauthorized = vi.fn();
    const api = new ApiClient({ baseUrl: "http://h", onUnauthorized, fetch: respond(401, { error: { code: "invalid_token", message: "Log in again." } }) });
    await expect(api.models()).rejects.toMatchObject({ status: 401 });
    expect(onUnauthorized).toHaveBeenCalledOnce();
    const anonymous = new ApiClient({ baseUrl: "http://h", onUnauthorized, fetch: respond(401, {}) });
    await expect(anonymous.login("a", "b")).rejects.toMatchObject({ status: 401, code: "http_error" });
    expect(onUnauthorized).toHaveBeenCalledOnce();
  });

  it("switches a conversation's branch with a PUT of the message to show", async () => {
    const fetch = respond(200, { id: "c/1", messages: [] });
    const api = new ApiClient({ baseUrl: "http://h", fetch });
    await api.switchBranch("c/1", "m1");
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe("http://h/api/conversations/c%2F1/leaf");
    expect(init.method).toBe("PUT");
    expect(JSON.parse(init.body as string)).toEqual({ message_id: "m1" });
    expect((init.headers as Record<string, string>)["X-Parley-CSRF"]).toBe("1");
  });

  it("returns nothing for 204", async () => {
    const api = new ApiClient({ baseUrl: "http://h", fetch: respond(204, null) });
    await expect(api.deleteConversation("x/y")).resolves.toBeUndefined();
  });
});

describe("parseRetryAfter", () => {
  it("reads seconds and dates", () => {
    expect(parseRetryAfter("5")).toBe(5);
    expect(parseRetryAfter(null)).toBeNull();
    expect(parseRetryAfter("Wed, 21 Oct 2015 07:28:30 GMT", Date.parse("Wed, 21 Oct 2015 07:28:00 GMT"))).toBe(30);
    expect(parseRetryAfter("soon")).toBeNull();
  });
});

describe("resolveConfig", () => {
  const place = { origin: "https://chat.example.com", protocol: "https:", host: "chat.example.com" };

  it("uses this origin when the URLs are empty", () => {
    expect(resolveConfig({ api_base_url: "", ws_url: "", app_name: "Parley" }, place)).toEqual({
      apiBaseUrl: "https://chat.example.com",
      wsUrl: "wss://chat.example.com/ws",
      appName: "Parley",
    });
    expect(resolveConfig(null, { origin: "http://127.0.0.1:8000", protocol: "http:", host: "127.0.0.1:8000" }).wsUrl).toBe(
      "ws://127.0.0.1:8000/ws",
    );
  });

  it("uses the configured URLs and name", () => {
    expect(
      resolveConfig({ api_base_url: "https://api.example.com/", ws_url: "wss://ws.example.com/prod", app_name: "Acme Chat" }, place),
    ).toEqual({ apiBaseUrl: "https://api.example.com", wsUrl: "wss://ws.example.com/prod", appName: "Acme Chat" });
  });
});
