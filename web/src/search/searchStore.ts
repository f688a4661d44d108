// What the sidebar's search found in messages (the conversation list finds titles itself): the server's
// ranked hits, a page at a time; an answer to an older query is dropped.
import type { ApiClient } from "../api/client";
import type { SearchHit } from "../api/types";
import { Store } from "../lib/store";

export interface SearchState {
  query: string;
  /** Hits in messages, best first (hits in titles are left to the conversation list). */
  hits: readonly SearchHit[];
  nextCursor: string | null;
  loading: boolean;
  error: string | null;
}

type SearchApi = Pick<ApiClient, "search">;

export class SearchStore extends Store<SearchState> {
  private request = 0;

  constructor(
    private readonly api: SearchApi,
    private readonly pageSize = 20,
  ) {
    super({ query: "", hits: [], nextCursor: null, loading: false, error: null });
  }

  /** Search messages for ``query``; an empty query shows nothing. */
  search(query: string): Promise<void> {
    const q = query.trim();
    this.request++;
    this.setState({ query: q, hits: [], nextCursor: null, loading: false, error: null });
    return q ? this.fetchPage(null) : Promise.resolve();
  }

  loadMore(): Promise<void> {
    if (this.state.loading || this.state.nextCursor === null) return Promise.resolve();
    return this.fetchPage(this.state.nextCursor);
  }

  /** A deleted conversation's hits go with it. */
  forget(conversationId: string): void {
    this.setState({ hits: this.state.hits.filter((h) => h.conversation_id !== conversationId) });
  }

  private async fetchPage(cursor: string | null): Promise<void> {
    const request = ++this.request;
    this.setState({ loading: true, error: null });
    try {
      const page = await this.api.search({ q: this.state.query, limit: this.pageSize, cursor });
      if (request !== this.request) return;
      const known = new Set(this.state.hits.map(key));
      const fresh = page.items.filter((h) => h.message_id !== null && !known.has(key(h)));
      this.setState({ hits: [...this.state.hits, ...fresh], nextCursor: page.next_cursor, loading: false });
    } catch (error) {
      if (request !== this.request) return;
      this.setState({ loading: false, error: error instanceof Error ? error.message : String(error) });
    }
  }
}

export function key(hit: SearchHit): string {
  return `${hit.conversation_id}/${hit.message_id ?? ""}`;
}

export interface SnippetPiece {
  text: string;
  marked: boolean;
}

/** The snippet cut into plain and matched pieces. Highlights count code points, so the text is split into
 * code points first (a JavaScript string index counts UTF-16 units, and an emoji is two of them). Ranges
 * out of order, overlapping or out of bounds are ignored rather than trusted. */
export function snippetPieces(snippet: string, highlights: readonly { start: number; end: number }[]): SnippetPiece[] {
  const chars = Array.from(snippet);
  const pieces: SnippetPiece[] = [];
  let at = 0;
  for (const { start, end } of highlights) {
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < at || end <= start || end > chars.length) continue;
    if (start > at) pieces.push({ text: chars.slice(at, start).join(""), marked: false });
    pieces.push({ text: chars.slice(start, end).join(""), marked: true });
    at = end;
  }
  if (at < chars.length) pieces.push({ text: chars.slice(at).join(""), marked: false });
  return pieces;
}
