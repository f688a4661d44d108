// Sign-up, on a server whose owner allows it (PARLEY_SIGNUP). The account may work at once, or wait for an
// administrator's approval: the page says which.
import { useRef, useState, type FormEvent } from "react";
import { ApiError, type ApiClient } from "../api/client";
import { AccountFields, draftProblem, draftReady, EMPTY_DRAFT, type AccountDraft } from "./AccountFields";
import { LogoIcon } from "./icons";

interface Props {
  api: ApiClient;
  appName: string;
  /** Back to the login page, with a notice and the new account's name filled in. */
  onDone: (notice: string | null, username: string | null) => void;
}

export function SignupPage({ api, appName, onDone }: Props) {
  const [draft, setDraft] = useState<AccountDraft>(EMPTY_DRAFT);
  const [email, setEmail] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const userField = useRef<HTMLInputElement>(null);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (busy || !draftReady(draft)) return;
    setBusy(true);
    setError(null);
    try {
      const created = await api.signup(draft.username.trim(), draft.password, email.trim() || null);
      onDone(
        created.pending
          ? `Your account ${created.username} is created and waits for an administrator's approval. You can log in once it is approved.`
          : `Your account ${created.username} is ready. Log in with it.`,
        created.username,
      );
    } catch (caught) {
      setError(caught instanceof ApiError ? caught.message : "Something went wrong. Try again.");
      userField.current?.focus();
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="login-page">
      <main className="login-card" aria-labelledby="signup-title">
        <div className="login-brand">
          <LogoIcon size={44} />
          <h1 id="signup-title">Create an account on {appName}</h1>
        </div>
        <form onSubmit={(e) => void submit(e)} noValidate>
          <AccountFields idPrefix="signup" draft={draft} onChange={setDraft} usernameRef={userField} />
          <label htmlFor="signup-email">Email (optional)</label>
          <input
            id="signup-email"
            name="email"
            type="email"
            autoComplete="email"
            value={email}
            onChange={(e) => setEmail(e.target.value)}
          />
          <div className="form-error" role="alert" aria-live="assertive">
            {error ?? draftProblem(draft)}
          </div>
          <button type="submit" className="primary-button" disabled={busy || !draftReady(draft)}>
            {busy ? "Creating…" : "Create account"}
          </button>
        </form>
        <p className="login-alt">
          Have an account?{" "}
          <a
            href="/"
            onClick={(e) => {
              e.preventDefault();
              onDone(null, null);
            }}
          >
            Log in
          </a>
        </p>
      </main>
    </div>
  );
}
