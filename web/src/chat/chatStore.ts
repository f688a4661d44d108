// The open conversation: its messages, the answer being generated, and what the user can do to it
// (send, stop, regenerate, edit and resend). Socket events arrive through handleEvent. An answer still being
// generated when the page is reloaded, the chat is opened again or the socket comes back is rejoined with a
// `resume` from the last seq the page has: the server sends what was missed, then the rest.
import { ApiError, type ApiClient } from "../api/client";
import type { ChatParams, MessageOut, MessageStatus } from "../api/types";
import { Store } from "../lib/store";
import { codePoints, newMsgid, textAfter, type ClientMessage, type ServerEvent, type StartEvent } from "../ws/protocol";
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
  /** "socket": events arrive on the WebSocket; "waiting": the socket is gone, resume once it is back. */
  following: "socket" | "waiting";
  stopRequested: boolean;
  /** The answer's length in characters (code points) so far: the seq of the last delta shown. */
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
}

export interface ChatDeps {
  api: Pick<ApiClient, "getConversation">;
  send: (message: ClientMessage) => boolean;
  params: () => ChatParams;
  /** A new chat got its id from the server (the page's address should now name it). */
  onCreated?: (event: StartEvent) => void;
  frame?: (callback: () => void) => FrameThrottle;
}

// When the server has no words of its own for how an answer ended (see endedText).
const STATUS_TEXT: Partial<Record<MessageStatus, string>> = {
  error: "The answer could not be generated.",
  interrupted: "The answer was cut off before it finished.",
};

export class ChatStore extends Store<ChatState> {
  private readonly frame: FrameThrottle;
  private loadAbort: AbortController | null = null;

  constructor(private readonly deps: ChatDeps) {
    super({ conversationId: null, messages: [], loading: false, loadError: null, generation: null, tick: 0 });
    this.frame = (deps.frame ?? frameThrottle)(() => this.setState({ tick: this.state.tick + 1 }));
  }

  get isGenerating(): boolean {
    return this.state.generation !== null;
  }

  /** Show a conversation (null: a new, empty chat). Opening the one already shown does nothing. */
  open(conversationId: string | null): void {
    if (conversationId === this.state.conversationId && !this.state.loadError) return;
    this.reset({ conversationId, loading: conversationId !== null });
    if (conversationId !== null) void this.load(conversationId);
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
        // Keep only what comes after the text shown: a delta may repeat some of it (a catch-up, or the same
        // answer followed twice on one socket after switching chats away and back).
        const text = textAfter(event, generation.lastSeq);
        if (text === null) return;
        generation.lastSeq = event.seq;
        this.assistant(generation)?.text.append(text);
        this.frame.schedule();
        break;
      }
      case "done":
        this.finish(generation, event.finish_reason === "stopped" ? "stopped" : "complete", null);
        break;
      case "error":
        this.finish(generation, this.assistant(generation)?.text.length ? "interrupted" : "error", event.message);
        break;
    }
  }

  /** The socket closed: an answer in flight keeps going on the server; rejoin it when the socket is back. */
  socketLost(): void {
    const generation = this.state.generation;
    if (!generation || generation.following === "waiting") return;
    if (this.assistant(generation)?.id == null || this.state.conversationId === null) {
      this.finish(generation, "error", "The connection was lost before the answer started.");
      return;
    }
    this.setState({ generation: { ...generation, following: "waiting" } });
  }

  /** The socket is open (again): rejoin the answer being generated, from what is shown. */
  socketOpened(): void {
    const generation = this.state.generation;
    if (generation?.following === "waiting") this.resume(generation);
  }

  dispose(): void {
    this.frame.cancel();
    this.loadAbort?.abort();
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

  /** Ask the server for the answer after what is shown; without a socket, wait for it. */
  private resume(generation: Generation): void {
    const conversationId = this.state.conversationId;
    if (conversationId === null) return;
    const sent = this.deps.send({
      action: "resume",
      payload: { msgid: generation.msgid, conversation_id: conversationId, after_seq: generation.lastSeq },
    });
    const following = sent ? "socket" : "waiting";
    if (generation.following !== following) this.setState({ generation: { ...generation, following } });
  }

  private finish(generation: Generation, status: MessageStatus, error: string | null): void {
    this.frame.flush();
    this.setState({
      generation: null,
      messages: this.state.messages.map((m) => (m.key === generation.assistantKey ? { ...m, status, error } : m)),
    });
  }

  private reset(patch: Partial<ChatState>): void {
    this.frame.cancel();
    this.loadAbort?.abort();
    this.loadAbort = null;
    this.setState({ conversationId: null, messages: [], loading: false, loadError: null, generation: null, ...patch });
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
        // Still being written (the page was reloaded mid-answer, the chat opened again, or another tab asked):
        // rejoin it from the saved text. The answer carries its request's msgid (a regenerated answer's question
        // was asked by an earlier request).
        const asker = [...messages].reverse().find((m) => m.role === "user");
        generation = {
          msgid: last.msgid ?? asker?.msgid ?? last.key,
          assistantKey: last.key,
          following: "waiting",
          stopRequested: false,
          lastSeq: codePoints(last.text.text),
        };
      }
      this.setState({ messages, loading: false, generation });
      if (generation) this.resume(generation);
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
