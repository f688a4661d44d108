// Sign in. Explains a wrong password, throttling (with a countdown), an unreachable server, and what
// to do on a server that has no accounts yet.
import { useEffect, useRef, useState, type FormEvent } from "react";
import { ApiError, type ApiClient } from "../api/client";
import type { LoginResponse } from "../api/types";
import { LogoIcon } from "./icons";

interface Props {
  api: ApiClient;
  appName: string;
  notice: string | null;
  /** Filled in for the user, e.g. after the first-run setup made this account. */
  initialUsername?: string | null;
  onLogin: (login: LoginResponse) => void;
  /** Open the sign-up page (offered only when the server allows sign-up). */
  onSignup?: () => void;
}

type Setup = "unknown" | "required" | "done" | "unreachable";

export function LoginPage({ api, appName, notice, initialUsername = null, onLogin, onSignup }: Props) {
  const [username, setUsername] = useState(initialUsername ?? "");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [retryUntil, setRetryUntil] = useState<number | null>(null);
  const [now, setNow] = useState(() => Date.now());
  const [setup, setSetup] = useState<Setup>("unknown");
  const [signupOpen, setSignupOpen] = useState(false);
  const userField = useRef<HTMLInputElement>(null);

  useEffect(() => {
    let cancelled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const check = async () => {
      try {
        const health = await api.health();
        if (cancelled) return;
        setSetup(health.setup_required ? "required" : "done");
        setSignupOpen(health.signup !== "off");
        if (health.setup_required) timer = setTimeout(check, 5000); // until the first account exists
      } catch {
        if (!cancelled) setSetup("unreachable");
      }
    };
    void check();
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, [api]);

  useEffect(() => {
    if (retryUntil === null) return;
    const timer = setInterval(() => {
      const current = Date.now();
      setNow(current);
      if (current >= retryUntil) {
        setRetryUntil(null);
        setError(null);
      }
    }, 250);
    return () => clearInterval(timer);
  }, [retryUntil]);

  const waitSeconds = retryUntil === null ? 0 : Math.max(0, Math.ceil((retryUntil - now) / 1000));

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (busy || waitSeconds > 0) return;
    setBusy(true);
    setError(null);
    try {
      onLogin(await api.login(username.trim(), password));
    } catch (caught) {
      setPassword("");
      if (caught instanceof ApiError && caught.status === 429) {
        const seconds = caught.retryAfter ?? 60;
        setNow(Date.now());
        setRetryUntil(Date.now() + seconds * 1000);
        setError(caught.message);
      } else if (caught instanceof ApiError) {
        setError(caught.message);
        if (caught.isNetwork) setSetup("unreachable");
      } else {
        setError("Something went wrong. Try again.");
      }
      userField.current?.focus();
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="login-page">
      <main className="login-card" aria-labelledby="login-title">
        <div className="login-brand">
          <LogoIcon size={44} />
          <h1 id="login-title">Log in to {appName}</h1>
        </div>
        {notice && (
          <p className="notice" role="status">
            {notice}
          </p>
        )}
        {setup === "required" && (
          <div className="setup-hint" role="note" aria-label="First-time setup">
            <strong>No accounts yet.</strong> Open the setup link that <code>parley serve</code> printed when it
            started (it ends in <code>/setup#code=…</code>) to create the first account here. Or create it on the
            server:
            <pre>
              <code>parley users add NAME --admin</code>
            </pre>
            (<code>.venv/bin/parley</code> in a checkout), then log in here.
          </div>
        )}
        <form onSubmit={(e) => void submit(e)} noValidate>
          <label htmlFor="username">Username</label>
          <input
            id="username"
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
          <label htmlFor="password">Password</label>
          <input
            id="password"
            name="password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
          <div className="form-error" role="alert" aria-live="assertive">
            {error && (
              <>
                {error}
                {waitSeconds > 0 && <span className="retry-in"> You can try again in {waitSeconds} s.</span>}
              </>
            )}
            {!error && setup === "unreachable" && (
              <>Cannot reach the server. Check that Parley is running, then reload this page.</>
            )}
          </div>
          <button
            type="submit"
            className="primary-button"
            disabled={busy || waitSeconds > 0 || !username.trim() || !password}
          >
            {busy ? "Logging in…" : waitSeconds > 0 ? `Try again in ${waitSeconds} s` : "Log in"}
          </button>
        </form>
        {signupOpen && onSignup && setup === "done" && (
          <p className="login-alt">
            No account?{" "}
            <a
              href="/signup"
              onClick={(e) => {
                e.preventDefault();
                onSignup();
              }}
            >
              Create account
            </a>
          </p>
        )}
      </main>
    </div>
  );
}
