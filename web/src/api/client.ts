// The JSON API over fetch, one error type carrying the server's {code, message}. The session is the HttpOnly
// cookie set by login: the browser sends it, and every request carries the header the server requires of a
// cookie request that changes anything (a cross-site form cannot send it).
import type {
  AccountCreated,
  ApiKeyCreate,
  ApiKeyCreated,
  ApiKeyList,
  ConversationDetail,
  ConversationOut,
  ConversationPage,
  ErrorBody,
  ExportLink,
  FileOut,
  FileUpload,
  HealthResponse,
  ImportJob,
  ImportUpload,
  LoginResponse,
  ModelsResponse,
  NewShare,
  Preferences,
  PublicShare,
  SearchPage,
  ShareOut,
  TicketResponse,
  UsageReport,
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
  /** Sent without the session cookie (a public page: it has no business with the session). */
  anonymous?: boolean;
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
    const headers: Record<string, string> = { Accept: "application/json" };
    if (!options.anonymous) headers[CSRF_HEADER] = "1";
    if (options.body !== undefined) headers["Content-Type"] = "application/json";

    let response: Response;
    try {
      response = await this.fetchImpl(url.toString(), {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: options.signal,
        cache: "no-store",
        credentials: options.anonymous ? "omit" : "same-origin", // the cookie, never to another origin
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

  listApiKeys(): Promise<ApiKeyList> {
    return this.request("GET", "/api/keys");
  }

  createApiKey(body: ApiKeyCreate): Promise<ApiKeyCreated> {
    return this.request("POST", "/api/keys", { body });
  }

  revokeApiKey(id: string): Promise<void> {
    return this.request("DELETE", `/api/keys/${encodeURIComponent(id)}`);
  }

  /** Tokens per UTC day and model from ``from`` to ``to`` (YYYY-MM-DD); admins may ask for ``user``'s or ``all``. */
  usage(
    params: { from?: string; to?: string; user?: string | null; all?: boolean },
    signal?: AbortSignal,
  ): Promise<UsageReport> {
    const { all, ...rest } = params;
    return this.request("GET", "/api/usage", { query: { ...rest, all: all ? "true" : null }, signal });
  }

  /** A link to a snapshot of the conversation's current branch; its token is shown this once. */
  createShare(conversationId: string): Promise<NewShare> {
    return this.request("POST", `/api/conversations/${encodeURIComponent(conversationId)}/shares`);
  }

  listShares(): Promise<ShareOut[]> {
    return this.request("GET", "/api/shares");
  }

  revokeShare(id: string): Promise<void> {
    return this.request("DELETE", `/api/shares/${encodeURIComponent(id)}`);
  }

  /** A shared conversation, read as anyone holding the link does: no session. */
  publicShare(token: string, signal?: AbortSignal): Promise<PublicShare> {
    return this.request("GET", `/api/public/shares/${encodeURIComponent(token)}`, {
      auth: false,
      anonymous: true,
      signal,
    });
  }

  wsTicket(): Promise<TicketResponse> {
    return this.request("POST", "/api/ws-ticket");
  }

  /** Where one conversation downloads from (the browser follows it with the session cookie). */
  exportUrl(id: string, format: "json" | "markdown"): string {
    return `${this.baseUrl}/api/conversations/${encodeURIComponent(id)}/export?format=${format}`;
  }

  /** A one-time link to the archive of every conversation; it expires within minutes. */
  async exportLink(): Promise<string> {
    const link = await this.request<ExportLink>("POST", "/api/exports");
    return new URL(link.download_url, this.baseUrl + "/").toString();
  }

  /** A new import job and where its file goes: this server, or a presigned storage URL. */
  createImport(file: File): Promise<ImportUpload> {
    return this.request("POST", "/api/imports/uploads", { body: { file_name: file.name, size: file.size } });
  }

  /** Send an import's file where ``createImport`` said: the target's fields, then the file. */
  async uploadImport(upload: ImportUpload, file: File): Promise<void> {
    const form = uploadForm(upload.upload.fields, file);
    const { url, ours } = this.uploadTarget(upload.upload.url);
    let response: Response;
    try {
      response = await this.fetchImpl(url, {
        method: "POST",
        body: form,
        // Our own server needs the session and the CSRF header; a storage URL is authorized by its signature.
        headers: ours ? { Accept: "application/json", [CSRF_HEADER]: "1" } : {},
        credentials: ours ? "same-origin" : "omit",
        cache: "no-store",
      });
    } catch {
      throw new ApiError(0, "network", NETWORK_MESSAGE);
    }
    if (!response.ok) {
      const payload: unknown = await response.json().catch(() => null);
      if (response.status === 401 && ours) this.onUnauthorized();
      throw errorFrom(response, payload);
    }
  }

  getImport(id: string): Promise<ImportJob> {
    return this.request("GET", `/api/imports/${encodeURIComponent(id)}`);
  }

  /** Where an upload's form goes, absolute; ``ours`` when it is this server (which wants the session and the CSRF
   * header), not a storage URL authorized by its signature. */
  uploadTarget(url: string): { url: string; ours: boolean } {
    const target = new URL(url, this.baseUrl + "/");
    return { url: target.toString(), ours: target.origin === new URL(this.baseUrl + "/").origin };
  }

  /** A new file record and where its bytes go (see ``uploadTarget``); 413 when it is too big for the limits. */
  createFileUpload(name: string, size: number): Promise<FileUpload> {
    return this.request("POST", "/api/files/uploads", { body: { name, size } });
  }

  getFile(id: string, signal?: AbortSignal): Promise<FileOut> {
    return this.request("GET", `/api/files/${encodeURIComponent(id)}`, { signal });
  }

  deleteFile(id: string): Promise<void> {
    return this.request("DELETE", `/api/files/${encodeURIComponent(id)}`);
  }

  /** A file's bytes: an image as the server re-encoded it (shown inline), a document's original (downloaded). */
  fileContentUrl(id: string): string {
    return `${this.baseUrl}/api/files/${encodeURIComponent(id)}/content`;
  }
}

/** A multipart upload: the target's fields first (a presigned POST requires them before the file), then the file. */
export function uploadForm(fields: Record<string, string>, file: File): FormData {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  form.append("file", file, file.name);
  return form;
}

function errorFrom(response: Response, payload: unknown): ApiError {
  return errorOf(response.status, response.statusText, payload, response.headers.get("Retry-After"));
}

/** The ApiError for an answer that was not ok: the server's {code, message} when it sent one. */
export function errorOf(status: number, statusText: string, payload: unknown, retryAfter: string | null = null): ApiError {
  const detail = isErrorBody(payload) ? payload.error : null;
  return new ApiError(
    status,
    detail?.code ?? "http_error",
    detail?.message ?? `The server answered ${status} ${statusText}`.trim() + ".",
    parseRetryAfter(retryAfter),
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
