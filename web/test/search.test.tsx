import { cleanup, render } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ConversationDetail, MessageOut, SearchHit } from "../src/api/types";
import { ChatStore } from "../src/chat/chatStore";
import { MessageHits, Snippet } from "../src/search/MessageHits";
import { SearchStore, snippetPieces } from "../src/search/searchStore";

afterEach(cleanup);

const hit = (conversation: string, message: string | null, snippet = "x", extra: Partial<SearchHit> = {}): SearchHit => ({
  conversation_id: conversation,
  title: `Chat ${conversation}`,
  message_id: message,
  role: message === null ? null : "assistant",
  snippet,
  highlights: [],
  ...extra,
});

describe("snippetPieces", () => {
  it("cuts by code points, so an emoji before a match does not shift it", () => {
    // "🦫" is one code point but two UTF-16 units: ranges count code points.
    expect(snippetPieces("🦫 beavers build dams", [{ start: 2, end: 9 }, { start: 16, end: 20 }])).toEqual([
      { text: "🦫 ", marked: false },
      { text: "beavers", marked: true },
      { text: " build ", marked: false },
      { text: "dams", marked: true },
    ]);
  });

  it("ignores ranges that overlap, go backwards or run past the end", () => {
    const pieces = snippetPieces("abc def", [
      { start: 4, end: 7 },
      { start: 0, end: 3 },
      { start: 5, end: 99 },
      { start: 2, end: 2 },
    ]);
    expect(pieces).toEqual([
      { text: "abc ", marked: false },
      { text: "def", marked: true },
    ]);
  });
});

describe("Snippet", () => {
  it("shows markup in a snippet as text, the matched words in <mark>", () => {
    const snippet = '<img src=x onerror="alert(1)"> said <b>beavers</b>';
    const start = snippet.indexOf("beavers"); // ASCII: code points and UTF-16 units agree
    const { container } = render(<Snippet hit={{ snippet, highlights: [{ start, end: start + 7 }] }} />);
    expect(container.querySelector("img, b, script")).toBeNull();
    expect(container.textContent).toBe(snippet);
    expect([...container.querySelectorAll("mark")].map((m) => m.textContent)).toEqual(["beavers"]);
  });
});

describe("SearchStore", () => {
  it("keeps the hits in messages, page after page, and drops answers to older queries", async () => {
    const pages: Record<string, { items: SearchHit[]; next_cursor: string | null }> = {
      "dams:": { items: [hit("c1", null), hit("c1", "m1"), hit("c2", "m2")], next_cursor: "p2" },
      "dams:p2": { items: [hit("c2", "m2"), hit("c3", "m3")], next_cursor: null },
      "old:": { items: [hit("c9", "m9")], next_cursor: null },
    };
    let release: () => void = () => undefined;
    const search = vi.fn(async ({ q, cursor }: { q: string; cursor?: string | null }) => {
      if (q === "old") await new Promise<void>((resolve) => (release = resolve));
      return pages[`${q}:${cursor ?? ""}`]!;
    });
    const store = new SearchStore({ search } as never, 3);
    const older = store.search("old");
    await store.search("  dams ");
    release();
    await older;
    expect(store.getState().hits.map((h) => h.message_id)).toEqual(["m1", "m2"]); // the title hit is the list's
    await store.loadMore();
    expect(store.getState().hits.map((h) => h.message_id)).toEqual(["m1", "m2", "m3"]);
    expect(store.getState().nextCursor).toBeNull();
    store.forget("c2");
    expect(store.getState().hits.map((h) => h.message_id)).toEqual(["m1", "m3"]);
    await store.search("");
    expect(store.getState().hits).toEqual([]);
    expect(search).toHaveBeenCalledTimes(3);
  });

  it("lists the hits with their chat's title and opens the message clicked", async () => {
    const search = vi.fn(async () => ({ items: [hit("c1", "m1", "beavers build", { highlights: [{ start: 0, end: 7 }] })], next_cursor: null }));
    const store = new SearchStore({ search } as never);
    await store.search("beavers");
    const onOpen = vi.fn();
    const { container, getByRole } = render(<MessageHits store={store} onOpen={onOpen} />);
    expect(container.querySelector(".search-hit-title")?.textContent).toBe("Chat c1");
    expect(container.querySelector("mark")?.textContent).toBe("beavers");
    getByRole("link").click();
    expect(onOpen).toHaveBeenCalledWith("c1", "m1");
  });
});

function message(id: string, role: "user" | "assistant", content: string): MessageOut {
  return {
    id,
    seq: 0,
    parent_id: null,
    sibling_ids: [id],
    attachments: [],
    citations: [],
    role,
    content,
    status: "complete",
    model: null,
    finish_reason: null,
    error: null,
    usage: null,
    msgid: null,
    created_at: 0,
    updated_at: 0,
  };
}

function detail(messages: MessageOut[]): ConversationDetail {
  return { id: "c1", title: "T", model: "m", created_at: 0, updated_at: 0, current_leaf_id: null, messages };
}

describe("ChatStore.openAt", () => {
  it("opens the conversation with the message in view, switching to its branch when it is on another", async () => {
    const getConversation = vi.fn(async () => detail([message("q1", "user", "one"), message("a1", "assistant", "two")]));
    const switchBranch = vi.fn(async () => detail([message("q2", "user", "edited"), message("a2", "assistant", "other")]));
    const store = new ChatStore({ api: { getConversation, switchBranch }, send: () => true, params: () => ({}) });

    store.openAt("c1", "a1");
    await vi.waitFor(() => expect(store.getState().focus?.messageId).toBe("a1"));
    expect(switchBranch).not.toHaveBeenCalled();
    const first = store.getState().focus!.nonce;

    store.openAt("c1", "a1"); // the same hit again: in view again
    await vi.waitFor(() => expect(store.getState().focus!.nonce).toBeGreaterThan(first));

    store.openAt("c1", "a2"); // on another branch
    await vi.waitFor(() => expect(store.getState().focus?.messageId).toBe("a2"));
    expect(switchBranch.mock.calls.map((call) => (call as unknown[]).slice(0, 2))).toEqual([["c1", "a2"]]);
    expect(store.getState().messages.map((m) => m.id)).toEqual(["q2", "a2"]);
    expect(getConversation).toHaveBeenCalledTimes(1);
  });

  it("forgets a message to show when another conversation is opened instead", async () => {
    const getConversation = vi.fn(async () => detail([message("q1", "user", "one")]));
    const switchBranch = vi.fn();
    const store = new ChatStore({ api: { getConversation, switchBranch }, send: () => true, params: () => ({}) });
    store.openAt("c1", "zz");
    store.open("c2");
    await vi.waitFor(() => expect(store.getState().loading).toBe(false));
    expect(store.getState().focus).toBeNull();
    expect(switchBranch).not.toHaveBeenCalled();
  });
});
