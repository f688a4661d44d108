// First run: the link `parley serve` printed carries a one-time code in its fragment (#code=…), which the browser
// never sends anywhere. Whoever holds it creates the first account, an admin, here; then logs in as usual.
import { useEffect, useRef, useState, type FormEvent } from "react";
import { ApiError, type ApiClient } from "../api/client";
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

const MIN_PASSWORD = 8;

export function SetupPage({ api, appName, onDone }: Props) {
  // Read once, then taken out of the address bar, so it is not left in the history or shared by a copied URL.
  const [code] = useState(() => setupCodeFrom(window.location.hash));
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [repeat, setRepeat] = useState("");
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

  const mismatch = repeat.length > 0 && repeat !== password;
  const tooShort = password.length > 0 && password.length < MIN_PASSWORD;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (busy || !code || mismatch || tooShort) return;
    setBusy(true);
    setError(null);
    try {
      const created = await api.setup(code, username.trim(), password);
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
            <label htmlFor="setup-username">Username</label>
            <input
              id="setup-username"
              ref={userField}
              name="username"
              autoComplete="username"
              autoCapitalize="none"
              spellCheck={false}
              autoFocus
              required
              value={username}
              onChange={(e) => setUsername(e.target.value)}
            />
            <label htmlFor="setup-password">Password</label>
            <input
              id="setup-password"
              name="password"
              type="password"
              autoComplete="new-password"
              required
              aria-describedby="setup-password-rule"
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
            <label htmlFor="setup-repeat">Repeat the password</label>
            <input
              id="setup-repeat"
              name="repeat"
              type="password"
              autoComplete="new-password"
              required
              value={repeat}
              onChange={(e) => setRepeat(e.target.value)}
            />
            <div className="form-error" role="alert" aria-live="assertive">
              {error ??
                (mismatch
                  ? "The passwords do not match."
                  : tooShort
                    ? `A password has at least ${MIN_PASSWORD} characters.`
                    : null)}
            </div>
            <p id="setup-password-rule" className="sr-only">
              At least {MIN_PASSWORD} characters.
            </p>
            <button
              type="submit"
              className="primary-button"
              disabled={busy || !username.trim() || !password || password !== repeat || tooShort}
            >
              {busy ? "Creating…" : "Create the administrator account"}
            </button>
          </form>
        )}
      </main>
    </div>
  );
}
