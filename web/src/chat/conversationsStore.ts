// The sidebar's list: newest first, a page at a time, optionally filtered by title on the server.
import type { ApiClient } from "../api/client";
import type { ConversationOut } from "../api/types";
import { Store } from "../lib/store";
import type { ServerEvent } from "../ws/protocol";

export interface ConversationsState {
  items: readonly ConversationOut[];
  nextCursor: string | null;
  /** Whether the first page of the current query has arrived. */
  loaded: boolean;
  loading: boolean;
  error: string | null;
  query: string;
}

type ConversationsApi = Pick<ApiClient, "listConversations" | "renameConversation" | "deleteConversation">;

export class ConversationsStore extends Store<ConversationsState> {
  private request = 0;

  constructor(
    private readonly api: ConversationsApi,
    private readonly pageSize = 30,
    private readonly now: () => number = () => Date.now() / 1000,
  ) {
    super({ items: [], nextCursor: null, loaded: false, loading: false, error: null, query: "" });
  }

  get hasMore(): boolean {
    return !this.state.loaded || this.state.nextCursor !== null;
  }

  /** Show the first page of titles containing ``query`` ("" for all). */
  search(query: string): Promise<void> {
    this.setState({ query, items: [], nextCursor: null, loaded: false, error: null });
    return this.fetchPage(null);
  }

  loadMore(): Promise<void> {
    if (this.state.loading || !this.hasMore) return Promise.resolve();
    return this.fetchPage(this.state.nextCursor);
  }

  /** A chat started (or continued): it moves to the top. */
  handleEvent(event: ServerEvent): void {
    if (event.type !== "start") return;
    const existing = this.state.items.find((c) => c.id === event.conversation_id);
    const now = this.now();
    const item: ConversationOut = existing
      ? { ...existing, updated_at: now }
      : { id: event.conversation_id, title: event.title, model: event.model, created_at: now, updated_at: now };
    if (!matches(item.title, this.state.query)) return;
    this.setState({ items: [item, ...this.state.items.filter((c) => c.id !== item.id)] });
  }

  async rename(id: string, title: string): Promise<void> {
    const before = this.state.items;
    this.setState({ items: before.map((c) => (c.id === id ? { ...c, title } : c)) });
    try {
      const renamed = await this.api.renameConversation(id, title);
      this.setState({ items: this.state.items.map((c) => (c.id === id ? renamed : c)) });
    } catch (error) {
      this.setState({ items: before });
      throw error;
    }
  }

  async remove(id: string): Promise<void> {
    await this.api.deleteConversation(id);
    this.setState({ items: this.state.items.filter((c) => c.id !== id) });
  }

  private async fetchPage(cursor: string | null): Promise<void> {
    const request = ++this.request;
    this.setState({ loading: true, error: null });
    try {
      const page = await this.api.listConversations({
        limit: this.pageSize,
        cursor,
        q: this.state.query.trim() || null,
      });
      if (request !== this.request) return;
      const known = new Set(this.state.items.map((c) => c.id));
      this.setState({
        items: [...this.state.items, ...page.items.filter((c) => !known.has(c.id))],
        nextCursor: page.next_cursor,
        loaded: true,
        loading: false,
      });
    } catch (error) {
      if (request !== this.request) return;
      this.setState({ loading: false, loaded: true, error: error instanceof Error ? error.message : String(error) });
    }
  }
}

function matches(title: string, query: string): boolean {
  const q = query.trim().toLowerCase();
  return !q || title.toLowerCase().includes(q);
}
