// Share the open conversation: makes a link to a snapshot of the branch shown, and shows it once to copy.
import { useEffect, useState } from "react";
import type { ApiClient } from "../api/client";
import type { NewShare } from "../api/types";
import { CopyButton } from "../components/CopyButton";
import { Dialog } from "../components/Dialog";
import { CloseIcon } from "../components/icons";
import { shareUrl } from "../router";

interface Props {
  api: ApiClient;
  conversationId: string | null;
  title: string;
  onClose: () => void;
  onManage: () => void;
}

type State = { kind: "idle" } | { kind: "making" } | { kind: "made"; share: NewShare } | { kind: "failed"; message: string };

export function ShareDialog({ api, conversationId, title, onClose, onManage }: Props) {
  const [state, setState] = useState<State>({ kind: "idle" });
  useEffect(() => setState({ kind: "idle" }), [conversationId]);

  const make = async () => {
    if (!conversationId) return;
    setState({ kind: "making" });
    try {
      setState({ kind: "made", share: await api.createShare(conversationId) });
    } catch (caught) {
      setState({ kind: "failed", message: caught instanceof Error ? caught.message : String(caught) });
    }
  };

  const link = state.kind === "made" ? shareUrl(state.share.url) : "";
  return (
    <Dialog open={conversationId !== null} onClose={onClose} className="share-dialog" labelledBy="share-title">
      <header className="share-dialog-header">
        <h2 id="share-title">Share chat</h2>
        <button type="button" className="icon-button" onClick={onClose} aria-label="Close">
          <CloseIcon />
        </button>
      </header>
      <p>
        Anyone with the link can read <strong>{title}</strong> as it is now: a snapshot of the branch shown. Messages
        you add or edit later are not shared. You can revoke the link at any time.
      </p>
      {state.kind === "made" ? (
        <>
          <label htmlFor="share-link" className="field-label">
            Link
          </label>
          <div className="share-link-row">
            <input id="share-link" readOnly value={link} onFocus={(e) => e.currentTarget.select()} />
            <CopyButton text={link} label="Copy link" showText />
          </div>
          <p className="hint">Copy it now: for your safety it is not shown again (only a fingerprint of it is kept).</p>
        </>
      ) : (
        state.kind === "failed" && (
          <p className="error-text" role="alert">
            Could not share: {state.message}
          </p>
        )
      )}
      <div className="dialog-actions">
        <button type="button" className="link-button" onClick={onManage}>
          Shared links…
        </button>
        {state.kind !== "made" && (
          <button type="button" className="primary-button" onClick={() => void make()} disabled={state.kind === "making"}>
            {state.kind === "making" ? "Creating…" : "Create link"}
          </button>
        )}
      </div>
    </Dialog>
  );
}
