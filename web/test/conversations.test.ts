import { describe, expect, it, vi } from "vitest";
import type { ConversationOut } from "../src/api/types";
import { ConversationsStore } from "../src/chat/conversationsStore";
import { dateGroup, groupByDate } from "../src/lib/dates";

const conv = (id: string, title = id, updated = 0): ConversationOut => ({ id, title, model: "m", created_at: 0, updated_at: updated });

function pagedApi(all: ConversationOut[], pageSize: number) {
  return {
    listConversations: vi.fn(async ({ cursor, q }: { cursor?: string | null; q?: string | null }) => {
      const matching = all.filter((c) => !q || c.title.toLowerCase().includes(q.toLowerCase()));
      const start = cursor ? Number(cursor) : 0;
      const next = start + pageSize < matching.length ? String(start + pageSize) : null;
      return { items: matching.slice(start, start + pageSize), next_cursor: next };
    }),
    renameConversation: vi.fn(async (id: string, title: string) => ({ ...conv(id), title })),
    deleteConversation: vi.fn(async () => undefined),
  };
}

describe("ConversationsStore", () => {
  it("loads page after page until there are no more", async () => {
    const api = pagedApi(Array.from({ length: 5 }, (_, i) => conv(`c${i}`)), 2);
    const store = new ConversationsStore(api as never, 2);
    await store.search("");
    expect(store.getState().items.map((c) => c.id)).toEqual(["c0", "c1"]);
    await store.loadMore();
    await store.loadMore();
    expect(store.getState().items.map((c) => c.id)).toEqual(["c0", "c1", "c2", "c3", "c4"]);
    expect(store.hasMore).toBe(false);
    await store.loadMore();
    expect(api.listConversations).toHaveBeenCalledTimes(3);
  });

  it("searches titles on the server and drops answers to older searches", async () => {
    const api = pagedApi([conv("a", "Cats"), conv("b", "Dogs"), conv("c", "More cats")], 10);
    const store = new ConversationsStore(api as never);
    const first = store.search("dog");
    const second = store.search("cat");
    await Promise.all([first, second]);
    expect(store.getState().items.map((c) => c.title)).toEqual(["Cats", "More cats"]);
  });

  it("puts a started chat on top, unless the search hides it", async () => {
    const store = new ConversationsStore(pagedApi([conv("old", "Old", 1)], 10) as never, 30, () => 100);
    await store.search("");
    const start = { type: "start", msgid: "m", message_id: "x", user_message_id: "y", model: "m" } as const;
    store.handleEvent({ ...start, conversation_id: "new", title: "New chat about cats" });
    store.handleEvent({ ...start, conversation_id: "old", title: "Old" });
    expect(store.getState().items.map((c) => [c.id, c.updated_at])).toEqual([
      ["old", 100],
      ["new", 100],
    ]);
    await store.search("dogs");
    store.handleEvent({ ...start, conversation_id: "third", title: "About cats" });
    expect(store.getState().items).toEqual([]);
  });

  it("renames optimistically and rolls back on failure; removes", async () => {
    const api = pagedApi([conv("a", "A"), conv("b", "B")], 10);
    const store = new ConversationsStore(api as never);
    await store.search("");
    await store.rename("a", "Renamed");
    expect(store.getState().items[0]!.title).toBe("Renamed");
    api.renameConversation.mockRejectedValueOnce(new Error("nope"));
    await expect(store.rename("a", "Again")).rejects.toThrow("nope");
    expect(store.getState().items[0]!.title).toBe("Renamed");
    await store.remove("b");
    expect(store.getState().items.map((c) => c.id)).toEqual(["a"]);
  });
});

describe("dates", () => {
  const now = new Date(2026, 10, 24, 15, 0, 0);
  const at = (daysAgo: number, hour = 12) => new Date(2026, 10, 24 - daysAgo, hour).getTime() / 1000;

  it("groups like a chat app", () => {
    expect(dateGroup(at(0, 1), now)).toBe("Today");
    expect(dateGroup(at(1, 23), now)).toBe("Yesterday");
    expect(dateGroup(at(5), now)).toBe("Previous 7 days");
    expect(dateGroup(at(20), now)).toBe("Previous 30 days");
    expect(dateGroup(at(400), now)).toBe("Older");
    expect(groupByDate([at(0), at(0), at(1), at(40)], (t) => t, now).map(([g, items]) => [g, items.length])).toEqual([
      ["Today", 2],
      ["Yesterday", 1],
      ["Older", 1],
    ]);
  });
});
