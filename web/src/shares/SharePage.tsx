// A shared conversation, as anyone holding its link sees it: read-only, no login, no session. It renders answers
// with the app's own markdown renderer (the same sanitizing), and calls nothing but the public share route.
import { useEffect, useState } from "react";
import { ApiClient, ApiError } from "../api/client";
import type { PublicShare, SharedMessage } from "../api/types";
import { LogoIcon } from "../components/icons";
import type { AppConfig } from "../config";
import { MarkdownBlock } from "../markdown/Markdown";

type State =
  | { kind: "loading" }
  | { kind: "gone" }
  | { kind: "failed"; message: string }
  | { kind: "shown"; share: PublicShare };

export const GONE_MESSAGE = "This link was revoked or never existed.";

export function SharePage({ config, token }: { config: AppConfig; token: string }) {
  const [state, setState] = useState<State>({ kind: "loading" });
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const api = new ApiClient({ baseUrl: config.apiBaseUrl });
    const abort = new AbortController();
    setState({ kind: "loading" });
    api.publicShare(token, abort.signal).then(
      (share) => setState({ kind: "shown", share }),
      (error: unknown) => {
        if (abort.signal.aborted) return;
        // 422: not even shaped like a link's token (a link cut short when it was copied, say).
        if (error instanceof ApiError && (error.status === 404 || error.status === 422)) setState({ kind: "gone" });
        else setState({ kind: "failed", message: error instanceof Error ? error.message : String(error) });
      },
    );
    return () => abort.abort();
  }, [config.apiBaseUrl, token, attempt]);

  useEffect(() => {
    document.title = state.kind === "shown" ? `${state.share.title} · ${config.appName}` : config.appName;
  }, [state, config.appName]);

  return (
    <div className="share-page">
      <header className="share-header">
        <a className="share-brand" href="/">
          <LogoIcon size={24} />
          <span>{config.appName}</span>
        </a>
        <span className="share-badge">Shared chat · read-only</span>
      </header>
      <main className="share-main" aria-busy={state.kind === "loading"}>
        {state.kind === "loading" && <p className="loading-note">Loading…</p>}
        {state.kind === "gone" && (
          <div className="share-gone" role="alert">
            <h1>{GONE_MESSAGE}</h1>
            <p>Ask whoever sent it for a new link.</p>
          </div>
        )}
        {state.kind === "failed" && (
          <div className="load-error" role="alert">
            <p>{state.message}</p>
            <button type="button" className="secondary-button" onClick={() => setAttempt((n) => n + 1)}>
              Try again
            </button>
          </div>
        )}
        {state.kind === "shown" && <SharedConversation share={state.share} appName={config.appName} />}
      </main>
    </div>
  );
}

function SharedConversation({ share, appName }: { share: PublicShare; appName: string }) {
  const sharedOn = new Date(share.shared_at * 1000).toLocaleString();
  return (
    <article className="shared-conversation">
      <header className="shared-title">
        <h1>{share.title}</h1>
        <p className="shared-note">
          A snapshot shared on <time dateTime={new Date(share.shared_at * 1000).toISOString()}>{sharedOn}</time>. Later
          messages are not shown.
        </p>
      </header>
      <div className="messages shared-messages">
        {share.messages.map((message, index) => (
          <SharedMessageView key={index} message={message} appName={appName} />
        ))}
      </div>
    </article>
  );
}

/** A message's text: its text parts, joined (the only parts a share holds). */
export function textOf(message: SharedMessage): string {
  return message.parts.map((part) => part.text).join("");
}

function SharedMessageView({ message, appName }: { message: SharedMessage; appName: string }) {
  const text = textOf(message);
  if (message.role === "user") {
    return (
      <section className="message user" aria-label="They said">
        <div className="bubble">{text}</div>
      </section>
    );
  }
  return (
    <section className="message assistant" aria-label={`${appName} said`}>
      <div className="assistant-avatar" aria-hidden="true">
        <LogoIcon size={26} />
      </div>
      <div className="assistant-body">
        <div className="markdown">
          <MarkdownBlock text={text} />
        </div>
        {message.model && <p className="answer-note">{message.model}</p>}
      </div>
    </section>
  );
}
