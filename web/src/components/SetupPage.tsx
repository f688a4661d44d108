// First run: the link `parley serve` printed carries a one-time code in its fragment (#code=…), which the browser
// never sends anywhere. Whoever holds it creates the first account, an admin, here; then logs in as usual.
import { useEffect, useRef, useState, type FormEvent } from "react";
import { ApiError, type ApiClient } from "../api/client";
import { AccountFields, draftProblem, draftReady, EMPTY_DRAFT, type AccountDraft } from "./AccountFields";
import { LogoIcon } from "./icons";

interface Props {
  api: ApiClient;
  appName: string;
  /** The setup is over (an account was made here, or exists already): show the login page. */
  onDone: (notice: string | null, username: string | null) => void;
}

/** The code of a setup link's fragment, e.g. "#code=abc"; null when there is none. */
export function setupCodeFrom(hash: string): string | null {
  const code = new URLSearchParams(hash.replace(/^#/, "")).get("code");
  return code ? code : null;
}

export function SetupPage({ api, appName, onDone }: Props) {
  // Read once, then taken out of the address bar, so it is not left in the history or shared by a copied URL.
  const [code] = useState(() => setupCodeFrom(window.location.hash));
  const [draft, setDraft] = useState<AccountDraft>(EMPTY_DRAFT);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [alreadySetUp, setAlreadySetUp] = useState(false);
  const userField = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (window.location.hash) history.replaceState(null, "", window.location.pathname);
    let cancelled = false;
    api
      .health()
      .then((health) => {
        if (!cancelled && !health.setup_required) setAlreadySetUp(true);
      })
      .catch(() => undefined); // the form says so when it cannot reach the server
    return () => {
      cancelled = true;
    };
  }, [api]);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (busy || !code || !draftReady(draft)) return;
    setBusy(true);
    setError(null);
    try {
      const created = await api.setup(code, draft.username.trim(), draft.password);
      onDone(`The administrator account ${created.username} is ready. Log in with it.`, created.username);
    } catch (caught) {
      setError(caught instanceof ApiError ? caught.message : "Something went wrong. Try again.");
      userField.current?.focus();
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="login-page">
      <main className="login-card" aria-labelledby="setup-title">
        <div className="login-brand">
          <LogoIcon size={44} />
          <h1 id="setup-title">Set up {appName}</h1>
        </div>
        {alreadySetUp ? (
          <div className="setup-hint" role="note">
            <strong>{appName} is set up already.</strong> Log in with your account.
            <p>
              <button type="button" className="primary-button" onClick={() => onDone(null, null)}>
                Go to log in
              </button>
            </p>
          </div>
        ) : !code ? (
          <div className="setup-hint" role="note">
            <strong>This page needs the setup link.</strong> Open the link that <code>parley serve</code> printed when
            it started (it ends in <code>/setup#code=…</code>), or create the first account on the server:
            <pre>
              <code>parley users add NAME --admin</code>
            </pre>
          </div>
        ) : (
          <form onSubmit={(e) => void submit(e)} noValidate>
            <p className="notice" role="status">
              Create the first account. It is an administrator: it can approve others later.
            </p>
            <AccountFields idPrefix="setup" draft={draft} onChange={setDraft} usernameRef={userField} />
            <div className="form-error" role="alert" aria-live="assertive">
              {error ?? draftProblem(draft)}
            </div>
            <button
              type="submit"
              className="primary-button"
              disabled={busy || !draftReady(draft)}
            >
              {busy ? "Creating…" : "Create the administrator account"}
            </button>
          </form>
        )}
      </main>
    </div>
  );
}
