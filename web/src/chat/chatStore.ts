// The open conversation: its messages, the answer being generated, and what the user can do to it
// (send, stop, regenerate, edit and resend). Socket events arrive through handleEvent; when the socket
// is lost mid-answer (or the page is reloaded), the saved answer is polled until it is finished.
import { ApiError, type ApiClient } from "../api/client";
import type { ChatParams, MessageOut, MessageStatus } from "../api/types";
import { Store } from "../lib/store";
import { newMsgid, type ClientMessage, type ServerEvent, type StartEvent } from "../ws/protocol";
import { frameThrottle, type FrameThrottle } from "./frame";
import { StreamText } from "./streamText";

export interface ChatMessage {
  /** Stable React key (a local id until the server's is known). */
  key: string;
  id: string | null;
  role: "user" | "assistant";
  status: MessageStatus;
  text: StreamText;
  msgid: string | null;
  error: string | null;
}

interface Generation {
  msgid: string;
  assistantKey: string;
  /** "socket": events arrive on the WebSocket; "poll": the saved answer is fetched until it is done. */
  following: "socket" | "poll";
  stopRequested: boolean;
  lastSeq: number;
}

export interface ChatState {
  conversationId: string | null;
  messages: readonly ChatMessage[];
  loading: boolean;
  loadError: string | null;
  generation: Generation | null;
  /** Bumped at most once per animation frame while an answer streams in. */
  tick: number;
  /** A message to bring into view (a search hit opened); ``nonce`` changes each time it is asked for. */
  focus: { messageId: string; nonce: number } | null;
}

export interface ChatDeps {
  api: Pick<ApiClient, "getConversation" | "showBranch">;
  send: (message: ClientMessage) => boolean;
  params: () => ChatParams;
  /** A new chat got its id from the server (the page's address should now name it). */
  onCreated?: (event: StartEvent) => void;
  frame?: (callback: () => void) => FrameThrottle;
  pollMs?: number;
  /** Give up on a saved answer that has not grown for this long (its server may have restarted). */
  stallMs?: number;
  now?: () => number;
}

// When the server has no words of its own for how an answer ended (see endedText).
const STATUS_TEXT: Partial<Record<MessageStatus, string>> = {
  error: "The answer could not be generated.",
  interrupted: "The answer was cut off before it finished.",
};

export class ChatStore extends Store<ChatState> {
  private readonly frame: FrameThrottle;
  private loadAbort: AbortController | null = null;
  private pollTimer: ReturnType<typeof setTimeout> | null = null;
  private lastGrowth = 0;
  private pendingFocus: string | null = null;
  private focusCount = 0;

  constructor(private readonly deps: ChatDeps) {
    super({
      conversationId: null,
      messages: [],
      loading: false,
      loadError: null,
      generation: null,
      tick: 0,
      focus: null,
    });
    this.frame = (deps.frame ?? frameThrottle)(() => this.setState({ tick: this.state.tick + 1 }));
  }

  get isGenerating(): boolean {
    return this.state.generation !== null;
  }

  /** Show a conversation (null: a new, empty chat). Opening the one already shown does nothing. */
  open(conversationId: string | null): void {
    if (conversationId === this.state.conversationId && !this.state.loadError) return;
    this.pendingFocus = null;
    this.reset({ conversationId, loading: conversationId !== null });
    if (conversationId !== null) void this.load(conversationId);
  }

  /** Show a conversation at one of its messages (a search hit): on the branch that holds it, in view. */
  openAt(conversationId: string, messageId: string): void {
    if (conversationId !== this.state.conversationId || this.state.loadError) {
      this.open(conversationId);
      this.pendingFocus = messageId; // the load just started brings it into view
    } else if (this.state.loading) {
      this.pendingFocus = messageId;
    } else {
      void this.focusOn(conversationId, messageId);
    }
  }

  /** Reload the open conversation from the server. */
  refresh(): void {
    const id = this.state.conversationId;
    if (id !== null && !this.isGenerating) {
      this.reset({ conversationId: id, loading: true });
      void this.load(id);
    }
  }

  send(prompt: string): boolean {
    if (this.isGenerating || !prompt.trim()) return false;
    return this.start(prompt, this.state.messages, null);
  }

  /** Replace a user message (and everything after it) with ``prompt``, and answer again. */
  editAndResend(userKey: string, prompt: string): boolean {
    if (this.isGenerating || !prompt.trim()) return false;
    const index = this.state.messages.findIndex((m) => m.key === userKey && m.role === "user");
    const message = this.state.messages[index];
    if (!message) return false;
    const before = this.state.messages.slice(0, index);
    if (message.id === null || this.state.conversationId === null) return this.start(prompt, before, null);
    return this.start(prompt, before, message.id);
  }

  /** Answer the last prompt again (also the retry of a failed or cut-off answer). */
  regenerate(): boolean {
    const messages = this.state.messages;
    const lastUser = [...messages].reverse().find((m) => m.role === "user");
    return lastUser ? this.editAndResend(lastUser.key, lastUser.text.text) : false;
  }

  stop(): void {
    const generation = this.state.generation;
    if (!generation || generation.stopRequested) return;
    if (this.deps.send({ action: "stop", payload: { msgid: generation.msgid } })) {
      this.setState({ generation: { ...generation, stopRequested: true } });
    }
  }

  handleEvent(event: ServerEvent): void {
    const generation = this.state.generation;
    if (!generation || event.msgid !== generation.msgid) return;
    switch (event.type) {
      case "start":
        this.setState({
          conversationId: event.conversation_id,
          messages: this.state.messages.map((m) => {
            if (m.key === generation.assistantKey) return { ...m, id: event.message_id };
            if (m.role === "user" && m.msgid === event.msgid) return { ...m, id: event.user_message_id };
            return m;
          }),
        });
        if (generation.following === "socket") this.deps.onCreated?.(event);
        break;
      case "delta": {
        if (event.seq <= generation.lastSeq) return;
        generation.lastSeq = event.seq;
        this.assistant(generation)?.text.append(event.text);
        this.frame.schedule();
        break;
      }
      case "done":
        this.finish(generation, event.finish_reason === "stopped" ? "stopped" : "complete", null);
        break;
      case "error":
        if (generation.following === "poll") {
          void this.poll(true); // e.g. stop refused: it is not running any more
          return;
        }
        this.finish(generation, this.assistant(generation)?.text.length ? "interrupted" : "error", event.message);
        break;
    }
  }

  /** The socket closed: an answer in flight keeps going on the server, so follow it by polling. */
  socketLost(): void {
    const generation = this.state.generation;
    if (!generation || generation.following === "poll") return;
    if (this.assistant(generation)?.id == null || this.state.conversationId === null) {
      this.finish(generation, "error", "The connection was lost before the answer started.");
      return;
    }
    this.setState({ generation: { ...generation, following: "poll" } });
    this.lastGrowth = this.now();
    this.schedulePoll();
  }

  dispose(): void {
    this.frame.cancel();
    this.loadAbort?.abort();
    this.clearPoll();
  }

  private start(prompt: string, before: readonly ChatMessage[], editMessageId: string | null): boolean {
    const msgid = newMsgid();
    const payload: ClientMessage = { action: "sendprompt", payload: { msgid, prompt, params: this.deps.params() } };
    if (this.state.conversationId !== null) payload.payload.conversation_id = this.state.conversationId;
    if (editMessageId !== null) payload.payload.edit_message_id = editMessageId;
    if (!this.deps.send(payload)) return false;
    const user: ChatMessage = {
      key: `local-${msgid}-user`,
      id: null,
      role: "user",
      status: "complete",
      text: StreamText.from(prompt),
      msgid,
      error: null,
    };
    const assistant: ChatMessage = {
      key: `local-${msgid}-answer`,
      id: null,
      role: "assistant",
      status: "streaming",
      text: new StreamText(),
      msgid,
      error: null,
    };
    this.setState({
      messages: [...before, user, assistant],
      generation: { msgid, assistantKey: assistant.key, following: "socket", stopRequested: false, lastSeq: 0 },
    });
    return true;
  }

  private assistant(generation: Generation): ChatMessage | undefined {
    return this.state.messages.find((m) => m.key === generation.assistantKey);
  }

  private finish(generation: Generation, status: MessageStatus, error: string | null): void {
    this.frame.flush();
    this.clearPoll();
    this.setState({
      generation: null,
      messages: this.state.messages.map((m) => (m.key === generation.assistantKey ? { ...m, status, error } : m)),
    });
  }

  private reset(patch: Partial<ChatState>): void {
    this.frame.cancel();
    this.loadAbort?.abort();
    this.loadAbort = null;
    this.clearPoll();
    this.setState({
      conversationId: null,
      messages: [],
      loading: false,
      loadError: null,
      generation: null,
      focus: null,
      ...patch,
    });
  }

  private async load(conversationId: string): Promise<void> {
    const abort = new AbortController();
    this.loadAbort = abort;
    try {
      const detail = await this.deps.api.getConversation(conversationId, abort.signal);
      if (abort.signal.aborted) return;
      const messages = detail.messages.map(fromServer);
      const last = messages[messages.length - 1];
      let generation: Generation | null = null;
      if (last?.role === "assistant" && last.status === "streaming") {
        // Still being written (the page was reloaded mid-answer, or another tab asked): follow it. The answer
        // carries its request's msgid (a regenerated answer's question was asked by an earlier request).
        const asker = [...messages].reverse().find((m) => m.role === "user");
        generation = {
          msgid: last.msgid ?? asker?.msgid ?? last.key,
          assistantKey: last.key,
          following: "poll",
          stopRequested: false,
          lastSeq: 0,
        };
      }
      this.setState({ messages, loading: false, generation });
      if (generation) {
        this.lastGrowth = this.now();
        this.schedulePoll();
      }
      if (this.pendingFocus !== null) await this.focusOn(conversationId, this.pendingFocus);
    } catch (error) {
      if (abort.signal.aborted) return;
      const message =
        error instanceof ApiError && error.status === 404
          ? "This chat does not exist. It may have been deleted."
          : error instanceof Error
            ? error.message
            : String(error);
      this.setState({ loading: false, loadError: message });
    }
  }

  /** Bring a message into view, switching to the branch that holds it if it is not on the one shown. */
  private async focusOn(conversationId: string, messageId: string): Promise<void> {
    this.pendingFocus = null;
    if (!this.state.messages.some((m) => m.id === messageId)) {
      if (this.isGenerating) return; // the branch being answered stays in view
      try {
        const detail = await this.deps.api.showBranch(conversationId, messageId);
        if (this.state.conversationId !== conversationId || this.isGenerating) return; // the user moved on
        this.setState({ messages: detail.messages.map(fromServer) });
      } catch {
        return; // gone since it was found: the conversation is shown as it is
      }
    }
    this.setState({ focus: { messageId, nonce: ++this.focusCount } });
  }

  private schedulePoll(): void {
    this.clearPoll();
    this.pollTimer = setTimeout(() => void this.poll(false), this.deps.pollMs ?? 1000);
  }

  private clearPoll(): void {
    if (this.pollTimer !== null) clearTimeout(this.pollTimer);
    this.pollTimer = null;
  }

  private async poll(notRunning: boolean): Promise<void> {
    this.pollTimer = null;
    const generation = this.state.generation;
    const conversationId = this.state.conversationId;
    if (!generation || generation.following !== "poll" || conversationId === null) return;
    let saved: MessageOut | undefined;
    try {
      const detail = await this.deps.api.getConversation(conversationId);
      const current = this.assistant(generation);
      saved = detail.messages.find((m) => m.id === current?.id);
    } catch {
      // Offline for a moment: try again on the next tick.
    }
    if (this.state.generation?.msgid !== generation.msgid) return; // the user moved on
    const current = this.assistant(generation);
    if (saved && current) {
      if (saved.content.length > current.text.length && saved.content.startsWith(current.text.text)) {
        current.text.append(saved.content.slice(current.text.length));
        this.lastGrowth = this.now();
        this.frame.schedule();
      } else if (saved.content !== current.text.text) {
        this.replaceAssistant(generation, { text: StreamText.from(saved.content) });
        this.lastGrowth = this.now();
      }
      if (saved.status !== "streaming") {
        this.finish(generation, saved.status as MessageStatus, endedText(saved));
        return;
      }
    }
    const stalled = this.now() - this.lastGrowth > (this.deps.stallMs ?? 90_000);
    if (notRunning || stalled) {
      this.finish(generation, current?.text.length ? "interrupted" : "error", "The answer stopped arriving.");
      return;
    }
    this.schedulePoll();
  }

  private replaceAssistant(generation: Generation, patch: Partial<ChatMessage>): void {
    this.setState({
      messages: this.state.messages.map((m) => (m.key === generation.assistantKey ? { ...m, ...patch } : m)),
    });
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }
}

function fromServer(message: MessageOut): ChatMessage {
  const status = message.status as MessageStatus;
  return {
    key: message.id,
    id: message.id,
    role: message.role === "user" ? "user" : "assistant",
    status,
    text: StreamText.from(message.content),
    msgid: message.msgid,
    error: endedText(message),
  };
}

/** Why a saved answer ended early: the server's words for its saved reason (the live error event's text is gone
 * after a reload), or a general one for its status; null for an answer that did not fail. */
function endedText(message: MessageOut): string | null {
  return message.error ?? STATUS_TEXT[message.status as MessageStatus] ?? null;
}
