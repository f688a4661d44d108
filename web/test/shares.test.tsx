import { render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiClient } from "../src/api/client";
import { shareTokenOf, shareUrl } from "../src/router";
import { GONE_MESSAGE, SharePage } from "../src/shares/SharePage";

const config = { apiBaseUrl: "http://h:1", wsUrl: "ws://h:1/ws", appName: "Parley" };

function respond(status: number, body: unknown) {
  return vi.fn(async () => new Response(JSON.stringify(body), { status }));
}

describe("share links", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("knows a share page by its path, and nothing else", () => {
    expect(shareTokenOf("/s/Zq3k-Vx_9aB2cD4eF6gH8i")).toBe("Zq3k-Vx_9aB2cD4eF6gH8i");
    expect(shareTokenOf("/s/abc/")).toBe("abc");
    for (const path of ["/", "/c/abc", "/s/", "/s/a/b", "/s/a.b", "/x/s/abc"]) expect(shareTokenOf(path)).toBeNull();
    expect(shareUrl("/s/abc", "https://chat.example")).toBe("https://chat.example/s/abc");
  });

  it("reads a share without the session: no cookie, no CSRF header", async () => {
    const fetch = respond(200, { title: "t", shared_at: 1, messages: [] });
    await new ApiClient({ baseUrl: "http://h:1", fetch }).publicShare("tok_en-1");
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe("http://h:1/api/public/shares/tok_en-1");
    expect(init.credentials).toBe("omit");
    expect((init.headers as Record<string, string>)["X-Parley-CSRF"]).toBeUndefined();
  });

  it("shows the snapshot with answers as sanitized markdown", async () => {
    const share = {
      title: "Rivers",
      shared_at: 1_700_000_000,
      messages: [
        { role: "user", parts: [{ type: "text", text: "Which **river**?" }], model: null, created_at: 1 },
        {
          role: "assistant",
          parts: [
            { type: "text", text: "The **Nile**. " },
            { type: "text", text: "<img src=x onerror=alert(1)> [x](javascript:alert(1))" },
          ],
          model: "m",
          created_at: 2,
        },
      ],
    };
    vi.stubGlobal("fetch", respond(200, share));
    const { container } = render(<SharePage config={config} token="abcdefghijklmnopqrstuv" />);
    expect(await screen.findByRole("heading", { name: "Rivers" })).toBeTruthy();
    expect(screen.getByText("Which **river**?")).toBeTruthy(); // a question is shown as typed
    expect(container.querySelector(".markdown strong")?.textContent).toBe("Nile");
    expect(container.querySelector("img, [onerror], a[href^='javascript']")).toBeNull();
  });

  it("says a revoked link was revoked or never existed", async () => {
    vi.stubGlobal("fetch", respond(404, { error: { code: "not_found", message: GONE_MESSAGE } }));
    render(<SharePage config={config} token="abcdefghijklmnopqrstuv" />);
    expect(await screen.findByRole("heading", { name: GONE_MESSAGE })).toBeTruthy();
  });
});
