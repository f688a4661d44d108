// Client routes: "/" is a new chat, "/c/<id>" a conversation, "/usage" the usage page, "/s/<token>" a shared
// conversation (public, no login). The server answers all of them with index.html.
import { useSyncExternalStore } from "react";

export interface Route {
  conversationId: string | null;
}

export function parseRoute(pathname: string): Route {
  const match = /^\/c\/([^/]+)\/?$/.exec(pathname);
  return { conversationId: match?.[1] ? decodeURIComponent(match[1]) : null };
}

/** The token of a share link's page, or null on any other page. */
export function shareTokenOf(pathname: string): string | null {
  const match = /^\/s\/([A-Za-z0-9_-]+)\/?$/.exec(pathname);
  return match?.[1] ?? null;
}

/** A share link, in full, for the owner to copy: the server gives it relative to the site's origin. */
export function shareUrl(path: string, origin: string = window.location.origin): string {
  return new URL(path, origin).toString();
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
