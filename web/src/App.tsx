import { lazy, Suspense, useCallback, useMemo, useState } from "react";
import { ApiClient } from "./api/client";
import { clearSession, loadSession, saveSession, type Session } from "./api/session";
import type { LoginResponse } from "./api/types";
import { LoginPage } from "./components/LoginPage";
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
      ) : (
        <LoginPage api={api} appName={config.appName} notice={notice} onLogin={onLogin} />
      )}
      <Toaster />
    </>
  );
}
