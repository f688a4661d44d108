// The JSON API over fetch, one error type carrying the server's {code, message}. The session is the HttpOnly
// cookie set by login: the browser sends it, and every request carries the header the server requires of a
// cookie request that changes anything (a cross-site form cannot send it).
import type {
  AccountCreated,
  ConversationDetail,
  ConversationOut,
  ConversationPage,
  ErrorBody,
  HealthResponse,
  LoginResponse,
  ModelsResponse,
  Preferences,
  SearchPage,
  TicketResponse,
} from "./types";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfter: number | null = null,
  ) {
    super(message);
    this.name = "ApiError";
  }

  get isNetwork(): boolean {
    return this.status === 0;
  }
}

export const NETWORK_MESSAGE = "Cannot reach the server. Check that Parley is running and your connection, then try again.";

export const CSRF_HEADER = "X-Parley-CSRF";

interface ClientOptions {
  baseUrl: string;
  /** Called when a request made in the session is refused with 401: the session is over. */
  onUnauthorized?: () => void;
  fetch?: typeof fetch;
}

interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | null | undefined>;
  auth?: boolean;
  signal?: AbortSignal;
}

export class ApiClient {
  private readonly baseUrl: string;
  private readonly onUnauthorized: () => void;
  private readonly fetchImpl: typeof fetch;

  constructor(options: ClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.onUnauthorized = options.onUnauthorized ?? (() => undefined);
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const url = new URL(this.baseUrl + path);
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value !== null && value !== undefined && value !== "") url.searchParams.set(name, String(value));
    }
    const headers: Record<string, string> = { Accept: "application/json", [CSRF_HEADER]: "1" };
    if (options.body !== undefined) headers["Content-Type"] = "application/json";

    let response: Response;
    try {
      response = await this.fetchImpl(url.toString(), {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: options.signal,
        cache: "no-store",
        credentials: "same-origin", // the cookie, never to another origin
      });
    } catch (error) {
      if (error instanceof DOMException && error.name === "AbortError") throw error;
      throw new ApiError(0, "network", NETWORK_MESSAGE);
    }
    if (response.status === 204) return undefined as T;
    const payload: unknown = await response.json().catch(() => null);
    if (!response.ok) {
      if (response.status === 401 && options.auth !== false) this.onUnauthorized();
      throw errorFrom(response, payload);
    }
    return payload as T;
  }

  health(): Promise<HealthResponse> {
    return this.request("GET", "/api/health", { auth: false });
  }

  login(username: string, password: string): Promise<LoginResponse> {
    // cookie: the server keeps the token in an HttpOnly cookie and does not return it.
    return this.request("POST", "/api/login", { body: { username, password, cookie: true }, auth: false });
  }

  /** The first account, an admin, for the holder of the setup link's one-time code. */
  setup(code: string, username: string, password: string): Promise<AccountCreated> {
    return this.request("POST", "/api/setup", { body: { code, username, password }, auth: false });
  }

  /** A new account, when the server allows sign-up; ``pending`` says whether it waits for approval. */
  signup(username: string, password: string, email: string | null): Promise<AccountCreated> {
    return this.request("POST", "/api/signup", { body: { username, password, email }, auth: false });
  }

  logout(): Promise<void> {
    return this.request("POST", "/api/logout");
  }

  models(): Promise<ModelsResponse> {
    return this.request("GET", "/api/models");
  }

  listConversations(
    params: { limit?: number; cursor?: string | null; q?: string | null },
    signal?: AbortSignal,
  ): Promise<ConversationPage> {
    return this.request("GET", "/api/conversations", { query: params, signal });
  }

  getConversation(id: string, signal?: AbortSignal): Promise<ConversationDetail> {
    return this.request("GET", `/api/conversations/${encodeURIComponent(id)}`, { signal });
  }

  /** Show and continue the branch through ``messageId`` (one of a turn's versions); the server keeps the choice. */
  switchBranch(id: string, messageId: string, signal?: AbortSignal): Promise<ConversationDetail> {
    return this.request("PUT", `/api/conversations/${encodeURIComponent(id)}/leaf`, {
      body: { message_id: messageId },
      signal,
    });
  }

  search(params: { q: string; limit?: number; cursor?: string | null }, signal?: AbortSignal): Promise<SearchPage> {
    return this.request("GET", "/api/search", { query: params, signal });
  }

  renameConversation(id: string, title: string): Promise<ConversationOut> {
    return this.request("PATCH", `/api/conversations/${encodeURIComponent(id)}`, { body: { title } });
  }

  deleteConversation(id: string): Promise<void> {
    return this.request("DELETE", `/api/conversations/${encodeURIComponent(id)}`);
  }

  getPreferences(): Promise<Preferences> {
    return this.request("GET", "/api/preferences");
  }

  putPreferences(preferences: Preferences): Promise<Preferences> {
    return this.request("PUT", "/api/preferences", { body: preferences });
  }

  wsTicket(): Promise<TicketResponse> {
    return this.request("POST", "/api/ws-ticket");
  }
}

function errorFrom(response: Response, payload: unknown): ApiError {
  const detail = isErrorBody(payload) ? payload.error : null;
  const retryAfter = parseRetryAfter(response.headers.get("Retry-After"));
  return new ApiError(
    response.status,
    detail?.code ?? "http_error",
    detail?.message ?? `The server answered ${response.status} ${response.statusText}`.trim() + ".",
    retryAfter,
  );
}

function isErrorBody(value: unknown): value is ErrorBody {
  if (typeof value !== "object" || value === null || !("error" in value)) return false;
  const error = (value as { error: unknown }).error;
  return typeof error === "object" && error !== null && "message" in error && "code" in error;
}

/** Seconds to wait, from either form of Retry-After (seconds or an HTTP date). */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - now) / 1000));
}
