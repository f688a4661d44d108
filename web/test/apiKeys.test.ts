import { describe, expect, it, vi } from "vitest";
import { ApiClient } from "../src/api/client";
import { ApiKeysStore } from "../src/settings/apiKeysStore";

const listed = {
  id: "k1",
  name: "laptop",
  prefix: "parley_AbCd",
  created_at: 1,
  expires_at: null,
  last_used_at: null,
  revoked: false,
  save_conversations: false,
};

function server(...answers: [number, unknown][]) {
  const queue = [...answers];
  return vi.fn(async () => {
    const [status, body] = queue.shift() ?? [500, null];
    return new Response(body === null ? null : JSON.stringify(body), { status });
  });
}

describe("ApiKeysStore", () => {
  it("shows a new key once, keeps only its listing, and marks a revoked key", async () => {
    const fetch = server(
      [200, { keys: [] }],
      [201, { ...listed, key: "parley_secret" }],
      [204, null],
    );
    const store = new ApiKeysStore(new ApiClient({ baseUrl: "http://h", fetch }));
    await store.load();
    expect(await store.create(" laptop ", 30, true)).toBe(true);
    const [, init] = fetch.mock.calls[1] as unknown as [string, RequestInit];
    expect(JSON.parse(init.body as string)).toEqual({ name: "laptop", expires_in_days: 30, save_conversations: true });
    expect(store.getState().created?.key).toBe("parley_secret");
    expect(store.getState().keys).toEqual([listed]);
    expect(JSON.stringify(store.getState().keys)).not.toContain("parley_secret");
    store.dismissCreated();
    expect(store.getState().created).toBeNull();
    await store.revoke("k1");
    const [url, revokeInit] = fetch.mock.calls[2] as unknown as [string, RequestInit];
    expect([revokeInit.method, url]).toEqual(["DELETE", "http://h/api/keys/k1"]);
    expect(store.getState().keys[0]?.revoked).toBe(true);
  });

  it("says why a key could not be made", async () => {
    const fetch = server([409, { error: { code: "conflict", message: "You already have a key named 'laptop'." } }]);
    const store = new ApiKeysStore(new ApiClient({ baseUrl: "http://h", fetch }));
    expect(await store.create("laptop", null, false)).toBe(false);
    expect(store.getState().error).toBe("You already have a key named 'laptop'.");
    expect(store.getState().created).toBeNull();
  });
});
