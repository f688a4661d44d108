// The fields of a new account (first-run setup, sign-up): a username, and a password typed twice.
import type { RefObject } from "react";

export const MIN_PASSWORD = 8;

export interface AccountDraft {
  username: string;
  password: string;
  repeat: string;
}

export const EMPTY_DRAFT: AccountDraft = { username: "", password: "", repeat: "" };

/** What is wrong with the draft so far, in words; null when nothing is (yet). */
export function draftProblem(draft: AccountDraft): string | null {
  if (draft.repeat.length > 0 && draft.repeat !== draft.password) return "The passwords do not match.";
  if (draft.password.length > 0 && draft.password.length < MIN_PASSWORD)
    return `A password has at least ${MIN_PASSWORD} characters.`;
  return null;
}

export function draftReady(draft: AccountDraft): boolean {
  return draft.username.trim() !== "" && draft.password !== "" && draft.password === draft.repeat && !draftProblem(draft);
}

interface Props {
  idPrefix: string;
  draft: AccountDraft;
  onChange: (draft: AccountDraft) => void;
  usernameRef?: RefObject<HTMLInputElement | null>;
}

export function AccountFields({ idPrefix, draft, onChange, usernameRef }: Props) {
  return (
    <>
      <label htmlFor={`${idPrefix}-username`}>Username</label>
      <input
        id={`${idPrefix}-username`}
        ref={usernameRef}
        name="username"
        autoComplete="username"
        autoCapitalize="none"
        spellCheck={false}
        autoFocus
        required
        value={draft.username}
        onChange={(e) => onChange({ ...draft, username: e.target.value })}
      />
      <label htmlFor={`${idPrefix}-password`}>Password</label>
      <input
        id={`${idPrefix}-password`}
        name="password"
        type="password"
        autoComplete="new-password"
        required
        aria-describedby={`${idPrefix}-password-rule`}
        value={draft.password}
        onChange={(e) => onChange({ ...draft, password: e.target.value })}
      />
      <p id={`${idPrefix}-password-rule`} className="sr-only">
        At least {MIN_PASSWORD} characters.
      </p>
      <label htmlFor={`${idPrefix}-repeat`}>Repeat the password</label>
      <input
        id={`${idPrefix}-repeat`}
        name="repeat"
        type="password"
        autoComplete="new-password"
        required
        value={draft.repeat}
        onChange={(e) => onChange({ ...draft, repeat: e.target.value })}
      />
    </>
  );
}
