// One WebSocket for the chat, opened with a fresh single-use ticket each time, reconnecting with
// backoff when it drops. The server keeps generating an answer whose socket went away, so nothing is
// resent here: the chat store rejoins it (resume) once the socket is open again.
import { backoffDelay } from "./backoff";
import { parseServerEvent, type ClientMessage, type ServerEvent } from "./protocol";

export type SocketStatus = "connecting" | "open" | "reconnecting" | "closed";

export interface SocketState {
  status: SocketStatus;
  /** When the next attempt starts (ms since the epoch), while reconnecting. */
  retryAt: number | null;
  /** Whether it was ever open: before that, a failure is "cannot connect" rather than "lost". */
  everOpened: boolean;
}

export interface ChatSocketOptions {
  url: string;
  getTicket: () => Promise<string>;
  onEvent: (event: ServerEvent) => void;
  onState?: (state: SocketState) => void;
  /** Called when an open socket closes (answers in flight will not get more events on it). */
  onLost?: () => void;
  /** Called each time a socket opens, the first time and after every reconnect. */
  onOpen?: () => void;
  /** A ticket request refused for good (the session ended): stop trying. */
  isFatal?: (error: unknown) => boolean;
  createSocket?: (url: string) => WebSocket;
  backoff?: (attempt: number) => number;
  now?: () => number;
}

export class ChatSocket {
  private socket: WebSocket | null = null;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = true;
  private connecting = false;
  private state: SocketState = { status: "closed", retryAt: null, everOpened: false };
  private readonly options: ChatSocketOptions;
  private readonly handleOnline = () => this.reconnectNow();

  constructor(options: ChatSocketOptions) {
    this.options = options;
  }

  get current(): SocketState {
    return this.state;
  }

  get isOpen(): boolean {
    return this.state.status === "open";
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    if (typeof window !== "undefined") window.addEventListener("online", this.handleOnline);
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (typeof window !== "undefined") window.removeEventListener("online", this.handleOnline);
    this.clearTimer();
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      detach(socket);
      socket.close(1000, "bye");
    }
    this.setState({ status: "closed", retryAt: null });
  }

  /** Skip the wait and try again now (the banner's "Retry now", or the browser coming back online). */
  reconnectNow(): void {
    if (this.stopped || this.connecting || this.socket !== null) return;
    this.clearTimer();
    void this.connect();
  }

  send(message: ClientMessage): boolean {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  private async connect(): Promise<void> {
    if (this.connecting) return;
    this.connecting = true;
    const retrying = this.state.everOpened || this.attempt > 0;
    this.setState({ status: retrying ? "reconnecting" : "connecting", retryAt: null });
    let ticket: string;
    try {
      ticket = await this.options.getTicket();
    } catch (error) {
      this.connecting = false;
      if (this.stopped) return;
      if (this.options.isFatal?.(error)) {
        this.stop();
        return;
      }
      this.scheduleRetry();
      return;
    }
    this.connecting = false;
    if (this.stopped) return;
    const url = new URL(this.options.url);
    url.searchParams.set("ticket", ticket);
    const create = this.options.createSocket ?? ((u: string) => new WebSocket(u));
    const socket = create(url.toString());
    this.socket = socket;
    socket.onopen = () => {
      if (socket !== this.socket) return;
      this.attempt = 0;
      this.setState({ status: "open", retryAt: null, everOpened: true });
      this.options.onOpen?.();
    };
    socket.onmessage = (message: MessageEvent) => {
      const event = parseServerEvent(message.data);
      if (event) this.options.onEvent(event);
    };
    socket.onclose = () => {
      if (socket !== this.socket) return;
      const wasOpen = this.state.status === "open";
      this.socket = null;
      detach(socket);
      if (wasOpen) this.options.onLost?.();
      if (!this.stopped) this.scheduleRetry();
    };
  }

  private scheduleRetry(): void {
    const delay = (this.options.backoff ?? backoffDelay)(this.attempt);
    this.attempt += 1;
    const now = (this.options.now ?? Date.now)();
    this.setState({ status: "reconnecting", retryAt: now + delay });
    this.clearTimer();
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.connect();
    }, delay);
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private setState(patch: Partial<SocketState>): void {
    this.state = { ...this.state, ...patch };
    this.options.onState?.(this.state);
  }
}

function detach(socket: WebSocket): void {
  socket.onopen = null;
  socket.onmessage = null;
  socket.onclose = null;
}
