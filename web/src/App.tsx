import { lazy, Suspense, useCallback, useEffect, useMemo, useState } from "react";
import { ApiClient } from "./api/client";
import { clearSession, loadSession, saveSession, type Session } from "./api/session";
import type { LoginResponse } from "./api/types";
import { LoginPage } from "./components/LoginPage";
import { SetupPage } from "./components/SetupPage";
import { SignupPage } from "./components/SignupPage";
import { Toaster } from "./components/toasts";
import type { AppConfig } from "./config";
import { shareTokenOf } from "./router";

// The chat (markdown, highlighting) loads after login, so the login page stays small.
const ChatApp = lazy(() => import("./components/ChatApp").then((module) => ({ default: module.ChatApp })));
const SharePage = lazy(() => import("./shares/SharePage").then((module) => ({ default: module.SharePage })));

export function App({ config }: { config: AppConfig }) {
  // A share link's page is public: it shows the snapshot whoever opens it, logged in or not, and uses no session.
  const shareToken = shareTokenOf(window.location.pathname);
  if (shareToken) {
    return (
      <Suspense fallback={<div className="app-loading" aria-busy="true" />}>
        <SharePage config={config} token={shareToken} />
      </Suspense>
    );
  }
  return <SignedInApp config={config} />;
}

function SignedInApp({ config }: { config: AppConfig }) {
  const [session, setSession] = useState<Session | null>(() => loadSession());
  const [notice, setNotice] = useState<string | null>(null);
  // Pages shown without a session: the login page, sign-up, or the first-run setup its printed link opens.
  const [page, setPage] = useState<"login" | "setup" | "signup">(() => pageFor(window.location.pathname));
  const [knownUsername, setKnownUsername] = useState<string | null>(null);

  const showLogin = useCallback((message: string | null, username: string | null) => {
    history.replaceState(null, "", "/");
    setNotice(message);
    setKnownUsername(username);
    setPage("login");
  }, []);

  useEffect(() => {
    // Back and forward between the login and sign-up pages.
    const onPop = () => setPage(pageFor(window.location.pathname));
    window.addEventListener("popstate", onPop);
    return () => window.removeEventListener("popstate", onPop);
  }, []);

  const showSignup = useCallback(() => {
    history.pushState(null, "", "/signup");
    setNotice(null);
    setPage("signup");
  }, []);

  const endSession = useCallback((message: string | null) => {
    clearSession();
    setSession(null);
    setNotice(message);
  }, []);

  // One client per session: its 401 handler belongs to that session.
  const api = useMemo(
    () =>
      new ApiClient({
        baseUrl: config.apiBaseUrl,
        onUnauthorized: () => {
          if (session) endSession("Your session has ended. Log in again to continue.");
        },
      }),
    [config.apiBaseUrl, session, endSession],
  );

  const onLogin = (login: LoginResponse) => {
    setNotice(null);
    setSession(saveSession(login));
  };

  const onLogout = async () => {
    try {
      await api.logout();
    } catch {
      // the session is forgotten here either way (the server clears the cookie when it can)
    }
    endSession(null);
  };

  return (
    <>
      {session ? (
        <Suspense fallback={<div className="app-loading" aria-busy="true" />}>
          <ChatApp
            key={`${session.username}@${session.expiresAt}`}
            config={config}
            api={api}
            username={session.username}
            onLogout={() => void onLogout()}
          />
        </Suspense>
      ) : page === "setup" ? (
        <SetupPage api={api} appName={config.appName} onDone={showLogin} />
      ) : page === "signup" ? (
        <SignupPage api={api} appName={config.appName} onDone={showLogin} />
      ) : (
        <LoginPage
          api={api}
          appName={config.appName}
          notice={notice}
          initialUsername={knownUsername}
          onLogin={onLogin}
          onSignup={showSignup}
        />
      )}
      <Toaster />
    </>
  );
}

function pageFor(pathname: string): "login" | "setup" | "signup" {
  if (pathname === "/setup") return "setup";
  if (pathname === "/signup") return "signup";
  return "login";
}
