// API keys in the settings drawer: make one (shown once, with a Copy button and a warning), see the others (name,
// prefix, created, last used, expiry) and revoke one after confirming. The key itself never comes back.
import { useEffect, useId, useMemo, useState } from "react";
import type { ApiClient } from "../api/client";
import type { ApiKeyOut } from "../api/types";
import { useStore } from "../lib/store";
import { ApiKeysStore } from "../settings/apiKeysStore";
import { CopyButton } from "./CopyButton";
import { ConfirmDialog } from "./Dialog";

const EXPIRY_CHOICES: { days: number | null; label: string }[] = [
  { days: null, label: "Never" },
  { days: 7, label: "7 days" },
  { days: 30, label: "30 days" },
  { days: 90, label: "90 days" },
  { days: 365, label: "1 year" },
];

export function ApiKeysSection({ api }: { api: ApiClient }) {
  const store = useMemo(() => new ApiKeysStore(api), [api]);
  const keys = useStore(store, (s) => s.keys);
  const loading = useStore(store, (s) => s.loading);
  const error = useStore(store, (s) => s.error);
  const created = useStore(store, (s) => s.created);
  const busy = useStore(store, (s) => s.busy);
  const [name, setName] = useState("");
  const [expiry, setExpiry] = useState("");
  const [saveConversations, setSaveConversations] = useState(false);
  const [revoking, setRevoking] = useState<ApiKeyOut | null>(null);
  const id = useId();

  useEffect(() => {
    void store.load();
  }, [store]);

  const live = keys.filter((key) => !key.revoked);
  return (
    <section className="settings-section api-keys" aria-labelledby={`${id}-heading`}>
      <h3 id={`${id}-heading`}>API keys</h3>
      <p className="field-hint">
        For scripts and tools that speak OpenAI&apos;s API: base URL <code>{`${window.location.origin}/v1`}</code>, the
        key as the API key.
      </p>
      {error && (
        <p className="error-text" role="alert">
          {error}
        </p>
      )}
      {created && (
        <div className="new-key" role="status">
          <p className="new-key-warning">
            Copy your new key <strong>{created.name}</strong> now: it is shown this once, and cannot be seen again.
          </p>
          <div className="new-key-row">
            <code className="new-key-text" data-testid="new-api-key">
              {created.key}
            </code>
            <CopyButton text={created.key} label="Copy the key" showText />
          </div>
          <button type="button" className="secondary-button small" onClick={() => store.dismissCreated()}>
            Done
          </button>
        </div>
      )}
      <form
        className="api-key-form"
        onSubmit={(e) => {
          e.preventDefault();
          void store.create(name, expiry ? Number(expiry) : null, saveConversations).then((made) => {
            if (made) {
              setName("");
              setSaveConversations(false);
            }
          });
        }}
      >
        <label htmlFor={`${id}-name`}>Name</label>
        <input
          id={`${id}-name`}
          placeholder="e.g. laptop script"
          maxLength={64}
          value={name}
          onChange={(e) => setName(e.target.value)}
        />
        <label htmlFor={`${id}-expiry`}>Expires</label>
        <select id={`${id}-expiry`} value={expiry} onChange={(e) => setExpiry(e.target.value)}>
          {EXPIRY_CHOICES.map((choice) => (
            <option key={choice.label} value={choice.days ?? ""}>
              {choice.label}
            </option>
          ))}
        </select>
        <label className="checkbox-label">
          <input
            type="checkbox"
            checked={saveConversations}
            onChange={(e) => setSaveConversations(e.target.checked)}
          />
          Save its requests as conversations
        </label>
        <button type="submit" className="secondary-button small" disabled={busy || !name.trim()}>
          Create key
        </button>
      </form>
      {loading && keys.length === 0 ? (
        <p className="field-hint">Loading keys…</p>
      ) : live.length === 0 ? (
        <p className="field-hint">No keys yet.</p>
      ) : (
        <ul className="api-key-list" aria-label="Your API keys">
          {live.map((key) => (
            <li key={key.id} className="api-key">
              <div className="api-key-head">
                <span className="api-key-name">{key.name}</span>
                <code className="api-key-prefix">{key.prefix}…</code>
              </div>
              <p className="field-hint">
                Created {when(key.created_at)} · last used {key.last_used_at ? when(key.last_used_at) : "never"} ·{" "}
                {key.expires_at ? `expires ${when(key.expires_at)}` : "never expires"}
                {key.save_conversations ? " · saves conversations" : ""}
              </p>
              <button
                type="button"
                className="link-button"
                onClick={() => setRevoking(key)}
                aria-label={`Revoke the key ${key.name}`}
              >
                Revoke
              </button>
            </li>
          ))}
        </ul>
      )}
      <ConfirmDialog
        open={revoking !== null}
        title="Revoke API key?"
        confirmLabel="Revoke"
        onConfirm={() => {
          if (revoking) void store.revoke(revoking.id);
          setRevoking(null);
        }}
        onCancel={() => setRevoking(null)}
      >
        Anything using <strong>{revoking?.name}</strong> is refused from now on. This cannot be undone.
      </ConfirmDialog>
    </section>
  );
}

function when(seconds: number): string {
  return new Date(seconds * 1000).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}
