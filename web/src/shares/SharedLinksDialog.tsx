// The user's shared links: when each was made, open its chat, revoke it.
import { useEffect, useState } from "react";
import type { ApiClient } from "../api/client";
import type { ShareOut } from "../api/types";
import { Dialog } from "../components/Dialog";
import { CloseIcon, TrashIcon } from "../components/icons";
import { toasts } from "../components/toasts";
import { pathFor } from "../router";

interface Props {
  api: ApiClient;
  open: boolean;
  onClose: () => void;
  onOpenChat: (conversationId: string) => void;
}

type State = { kind: "loading" } | { kind: "failed"; message: string } | { kind: "listed"; shares: ShareOut[] };

export function SharedLinksDialog({ api, open, onClose, onOpenChat }: Props) {
  const [state, setState] = useState<State>({ kind: "loading" });
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    if (!open) return;
    let current = true;
    setState({ kind: "loading" });
    api.listShares().then(
      (shares) => current && setState({ kind: "listed", shares }),
      (caught: unknown) =>
        current && setState({ kind: "failed", message: caught instanceof Error ? caught.message : String(caught) }),
    );
    return () => {
      current = false;
    };
  }, [api, open, attempt]);

  const revoke = async (share: ShareOut) => {
    try {
      await api.revokeShare(share.id);
      setState((s) => (s.kind === "listed" ? { kind: "listed", shares: s.shares.filter((x) => x.id !== share.id) } : s));
      toasts.show(`Link to “${share.title}” revoked.`);
    } catch (caught) {
      toasts.show(`Could not revoke the link: ${caught instanceof Error ? caught.message : String(caught)}`);
    }
  };

  return (
    <Dialog open={open} onClose={onClose} className="share-dialog" labelledBy="shared-links-title">
      <header className="share-dialog-header">
        <h2 id="shared-links-title">Shared links</h2>
        <button type="button" className="icon-button" onClick={onClose} aria-label="Close shared links">
          <CloseIcon />
        </button>
      </header>
      {state.kind === "loading" && <p className="list-note">Loading…</p>}
      {state.kind === "failed" && (
        <p className="error-text" role="alert">
          {state.message}{" "}
          <button type="button" className="link-button" onClick={() => setAttempt((n) => n + 1)}>
            Try again
          </button>
        </p>
      )}
      {state.kind === "listed" && state.shares.length === 0 && (
        <p className="list-note">No shared links. Share a chat from its header to make one.</p>
      )}
      {state.kind === "listed" && state.shares.length > 0 && (
        <ul className="shared-links" aria-label="Your shared links">
          {state.shares.map((share) => (
            <li key={share.id}>
              <a
                href={pathFor(share.conversation_id)}
                onClick={(e) => {
                  if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
                  e.preventDefault();
                  onOpenChat(share.conversation_id);
                }}
              >
                {share.title}
              </a>
              <span className="shared-when">{new Date(share.created_at * 1000).toLocaleString()}</span>
              <button
                type="button"
                className="icon-button small"
                onClick={() => void revoke(share)}
                aria-label={`Revoke link to “${share.title}”`}
                title="Revoke"
              >
                <TrashIcon />
              </button>
            </li>
          ))}
        </ul>
      )}
      <p className="hint">Revoking a link stops it working at once. Deleting a chat revokes its links too.</p>
    </Dialog>
  );
}
