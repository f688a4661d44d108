// The sidebar search's hits in messages: each names its chat and shows the words around the match, the
// matched words marked. The snippet is text from the server, rendered by React as text and <mark>
// elements: nothing in it is ever markup.
import type { SearchHit } from "../api/types";
import { useStore } from "../lib/store";
import { pathFor } from "../router";
import { key, snippetPieces, type SearchStore } from "./searchStore";

interface Props {
  store: SearchStore;
  onOpen: (conversationId: string, messageId: string) => void;
}

export function MessageHits({ store, onOpen }: Props) {
  const query = useStore(store, (s) => s.query);
  const hits = useStore(store, (s) => s.hits);
  const loading = useStore(store, (s) => s.loading);
  const error = useStore(store, (s) => s.error);
  const nextCursor = useStore(store, (s) => s.nextCursor);
  if (!query || (hits.length === 0 && !loading && !error)) return null;
  return (
    <section className="message-hits" aria-label="Found in messages">
      <h2 className="group-title">In messages</h2>
      <ul>
        {hits.map((hit) => (
          <li key={key(hit)} className="search-hit">
            <a
              href={pathFor(hit.conversation_id)}
              onClick={(e) => {
                if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0 || hit.message_id === null) return;
                e.preventDefault();
                onOpen(hit.conversation_id, hit.message_id);
              }}
            >
              <span className="search-hit-title">{hit.title}</span>
              <Snippet hit={hit} />
            </a>
          </li>
        ))}
      </ul>
      {loading && <p className="list-note">Searching…</p>}
      {error && <p className="list-note error-text">{error}</p>}
      {nextCursor !== null && !loading && (
        <button type="button" className="link-button more-hits" onClick={() => void store.loadMore()}>
          More results
        </button>
      )}
    </section>
  );
}

export function Snippet({ hit }: { hit: Pick<SearchHit, "snippet" | "highlights"> }) {
  return (
    <span className="search-hit-snippet">
      {snippetPieces(hit.snippet, hit.highlights).map((piece, index) =>
        piece.marked ? <mark key={index}>{piece.text}</mark> : <span key={index}>{piece.text}</span>,
      )}
    </span>
  );
}
