// Client routes: "/" is a new chat, "/c/<id>" a conversation, "/usage" the usage page. The server answers each
// with index.html.
import { useSyncExternalStore } from "react";

export interface Route {
  conversationId: string | null;
}

export function parseRoute(pathname: string): Route {
  const match = /^\/c\/([^/]+)\/?$/.exec(pathname);
  return { conversationId: match?.[1] ? decodeURIComponent(match[1]) : null };
}

export function pathFor(conversationId: string | null): string {
  return conversationId ? `/c/${encodeURIComponent(conversationId)}` : "/";
}

const listeners = new Set<() => void>();

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  window.addEventListener("popstate", listener);
  return () => {
    listeners.delete(listener);
    window.removeEventListener("popstate", listener);
  };
}

export const USAGE_PATH = "/usage";

export function navigate(conversationId: string | null, { replace = false } = {}): void {
  navigateTo(pathFor(conversationId), { replace });
}

export function navigateTo(path: string, { replace = false } = {}): void {
  if (path === window.location.pathname) return;
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  for (const listener of [...listeners]) listener();
}

/** Whether the usage page is shown (instead of a conversation). */
export function useUsageRoute(): boolean {
  const pathname = useSyncExternalStore(subscribe, () => window.location.pathname);
  return pathname.replace(/\/+$/, "") === USAGE_PATH;
}

export function useConversationRoute(): string | null {
  const pathname = useSyncExternalStore(subscribe, () => window.location.pathname);
  return parseRoute(pathname).conversationId;
}
