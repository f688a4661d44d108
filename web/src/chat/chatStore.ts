// The open conversation: the branch shown (its messages, each with the versions of its turn), the answer
// being generated, and what the user can do to it (send, stop, regenerate, edit and resend, switch to another
// version). Editing and regenerating add a version beside the old one; nothing is deleted. Socket events
// arrive through handleEvent. An answer still being generated when the page is reloaded, the chat is opened
// again or the socket comes back is rejoined with a `resume` from the last seq the page has: the server sends
// what was missed, then the rest.
import { ApiError, type ApiClient } from "../api/client";
import type {
  AttachmentRef,
  ChatParams,
  CitationOut,
  ConversationDetail,
  MessageOut,
  MessageStatus,
} from "../api/types";
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
  /** The versions of this turn (messages sharing its parent), oldest first, itself included. A message the
   * server has not named yet stands in with its key until the start event gives its id. */
  siblingIds: readonly string[];
  /** The files a user message carried. */
  attachments: readonly AttachmentRef[];
  /** The passages an answer was given to read, in the order the model saw them numbered. */
  citations: readonly CitationOut[];
}

/** Where a message stands among its turn's versions, and the ids of its neighbours (null at either end). */
export interface Versions {
  position: number;
  total: number;
  previous: string | null;
  next: string | null;
}

export function versionsOf(message: ChatMessage): Versions {
  const ids = message.siblingIds;
  const index = Math.max(0, ids.indexOf(message.id ?? message.key));
  return {
    position: index + 1,
    total: Math.max(1, ids.length),
    previous: ids[index - 1] ?? null,
    next: ids[index + 1] ?? null,
  };
}

interface Generation {
  msgid: string;
  assistantKey: string;
  /** "socket": events arrive on the WebSocket; "waiting": the socket is gone, resume once it is back. */
  following: "socket" | "waiting";
  stopRequested: boolean;
  /** The answer's length in characters (code points) so far: the seq of the last delta shown. */
  lastSeq: number;
  /** A new prompt sent from this page: what to give back if the server refuses it before saving anything (an edit
   * or an answer asked again fails as an answer does: there is no new prompt to give back). */
  sent: Sent | null;
}

interface Sent {
  prompt: string;
  attachments: readonly AttachmentRef[];
  /** The branch shown before it was sent. */
  before: readonly ChatMessage[];
}

/** A prompt the server would not take (nothing was saved), handed back to be changed and sent again. */
export interface Refusal {
  prompt: string;
  attachments: readonly AttachmentRef[];
  code: string;
  message: string;
}

/** Refusals that are about what the prompt carries, so the user gets the prompt back rather than a failed answer. */
const GIVEN_BACK = new Set(["model_cannot_see"]);

export interface ChatState {
  conversationId: string | null;
  messages: readonly ChatMessage[];
  loading: boolean;
  loadError: string | null;
  generation: Generation | null;
  /** Another version's branch is being fetched (PUT .../leaf): nothing else may change the conversation. */
  switching: boolean;
  /** Bumped at most once per animation frame while an answer streams in. */
  tick: number;
  /** A message to bring into view (a search hit opened); ``nonce`` changes each time it is asked for. */
  focus: { messageId: string; nonce: number } | null;
}

export interface ChatDeps {
  api: Pick<ApiClient, "getConversation" | "switchBranch">;
  send: (message: ClientMessage) => boolean;
  params: () => ChatParams;
  /** A new chat got its id from the server (the page's address should now name it). */
  onCreated?: (event: StartEvent) => void;
  /** The server refused a prompt before saving it (see GIVEN_BACK): its turn is taken off the page. */
  onRefused?: (refusal: Refusal) => void;
  frame?: (callback: () => void) => FrameThrottle;
}

// When the server has no words of its own for how an answer ended (see endedText).
const STATUS_TEXT: Partial<Record<MessageStatus, string>> = {
  error: "The answer could not be generated.",
  interrupted: "The answer was cut off before it finished.",
};

export class ChatStore extends Store<ChatState> {
  private readonly frame: FrameThrottle;
  /** The fetch of the branch to show (opening a conversation, or switching versions); aborted by a reset. */
  private loadAbort: AbortController | null = null;
  private pendingFocus: string | null = null;
  private focusCount = 0;

  constructor(private readonly deps: ChatDeps) {
    super({
      conversationId: null,
      messages: [],
      loading: false,
      loadError: null,
      generation: null,
      switching: false,
      tick: 0,
      focus: null,
    });
    this.frame = (deps.frame ?? frameThrottle)(() => this.setState({ tick: this.state.tick + 1 }));
  }

  get isGenerating(): boolean {
    return this.state.generation !== null;
  }

  /** An answer is being written or a branch switched: nothing may be sent, edited or switched meanwhile. */
  get isBusy(): boolean {
    return this.state.generation !== null || this.state.switching;
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
    if (id !== null && !this.isBusy) {
      this.reset({ conversationId: id, loading: true });
      void this.load(id);
    }
  }

  send(prompt: string, attachments: readonly AttachmentRef[] = []): boolean {
    if (this.isBusy || (!prompt.trim() && attachments.length === 0)) return false;
    return this.start(prompt, this.state.messages, { kind: "new" }, attachments);
  }

  /** Ask ``prompt`` in place of a user message: a new version of that turn, answered, becomes the branch shown
   * (the old one is kept). With the message's own text, as on the server, this answers it again instead. */
  editAndResend(userKey: string, prompt: string): boolean {
    if (this.isBusy || !prompt.trim()) return false;
    const messages = this.state.messages;
    const index = messages.findIndex((m) => m.key === userKey && m.role === "user");
    const message = messages[index];
    if (!message) return false;
    if (message.id === null || this.state.conversationId === null) {
      // never saved: ask it afresh
      return this.start(prompt, messages.slice(0, index), { kind: "new" }, message.attachments);
    }
    if (prompt === message.text.text) {
      const answer = messages[index + 1];
      return this.start(prompt, messages.slice(0, index + 1), {
        kind: "answer-again",
        asked: message.id,
        answers: answer?.role === "assistant" ? savedVersions(answer) : [],
      });
    }
    // The new version carries the same files (the server reads a regenerated answer's from its saved question).
    return this.start(
      prompt,
      messages.slice(0, index),
      { kind: "edit", edited: message.id, versions: savedVersions(message) },
      message.attachments,
    );
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

  /** Show another version of a turn: the server moves the conversation to the branch through ``messageId``
   * (to the newest answer below it) and keeps that choice; the branch it returns is shown. Resolves true once
   * shown, false when it could not start or the user moved on; rejects with the server's ApiError. */
  async switchBranch(messageId: string): Promise<boolean> {
    const conversationId = this.state.conversationId;
    if (this.isBusy || this.state.loading || conversationId === null) return false;
    this.loadAbort?.abort();
    const abort = new AbortController();
    this.loadAbort = abort;
    this.setState({ switching: true });
    try {
      const detail = await this.deps.api.switchBranch(conversationId, messageId, abort.signal);
      if (abort.signal.aborted) return false;
      this.loadAbort = null;
      // One update: the new branch is drawn with its buttons already enabled (focus can land on them).
      this.show(detail, { switching: false });
      return true;
    } catch (error) {
      if (abort.signal.aborted) return false;
      this.loadAbort = null;
      this.setState({ switching: false });
      throw error;
    }
  }

  handleEvent(event: ServerEvent): void {
    const generation = this.state.generation;
    if (!generation || event.msgid !== generation.msgid) return;
    switch (event.type) {
      case "start":
        this.setState({
          conversationId: event.conversation_id,
          generation: { ...generation, sent: null }, // saved: nothing to give back any more
          messages: this.state.messages.map((m) => {
            if (m.key === generation.assistantKey) {
              return { ...named(m, event.message_id), citations: event.citations ?? [] };
            }
            if (m.role === "user" && m.msgid === event.msgid) return named(m, event.user_message_id);
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
        if (generation.sent !== null && GIVEN_BACK.has(event.code)) {
          this.giveBack(generation.sent, event.code, event.message);
          break;
        }
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

  /** Send a prompt and show its turn at once: ``before`` is the branch kept above the new messages. */
  private start(
    prompt: string,
    before: readonly ChatMessage[],
    turn: Turn,
    attachments: readonly AttachmentRef[] = [],
  ): boolean {
    const msgid = newMsgid();
    const payload: ClientMessage = { action: "sendprompt", payload: { msgid, prompt, params: this.deps.params() } };
    if (this.state.conversationId !== null) payload.payload.conversation_id = this.state.conversationId;
    if (turn.kind === "edit") payload.payload.edit_message_id = turn.edited;
    if (turn.kind === "answer-again") payload.payload.edit_message_id = turn.asked;
    if (turn.kind !== "answer-again" && attachments.length > 0) {
      payload.payload.attachments = attachments.map((a) => a.file_id);
    }
    if (!this.deps.send(payload)) return false;
    const added: ChatMessage[] = [];
    if (turn.kind !== "answer-again") {
      const key = `local-${msgid}-user`;
      added.push({
        key,
        id: null,
        role: "user",
        status: "complete",
        text: StreamText.from(prompt),
        msgid,
        error: null,
        siblingIds: [...(turn.kind === "edit" ? turn.versions : []), key],
        attachments,
        citations: [],
      });
    }
    const assistantKey = `local-${msgid}-answer`;
    const assistant: ChatMessage = {
      key: assistantKey,
      id: null,
      role: "assistant",
      status: "streaming",
      text: new StreamText(),
      msgid,
      error: null,
      siblingIds: [...(turn.kind === "answer-again" ? turn.answers : []), assistantKey],
      attachments: [],
      citations: [],
    };
    this.setState({
      messages: [...before, ...added, assistant],
      generation: {
        msgid,
        assistantKey: assistant.key,
        following: "socket",
        stopRequested: false,
        lastSeq: 0,
        sent: turn.kind === "new" ? { prompt, attachments, before: this.state.messages } : null,
      },
    });
    return true;
  }

  /** The server refused the prompt and saved nothing: show the branch as it was, and hand the prompt back. */
  private giveBack(sent: Sent, code: string, message: string): void {
    this.frame.cancel();
    this.setState({ generation: null, messages: sent.before });
    this.deps.onRefused?.({ prompt: sent.prompt, attachments: sent.attachments, code, message });
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
    this.setState({
      conversationId: null,
      messages: [],
      loading: false,
      loadError: null,
      generation: null,
      switching: false,
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
      this.show(detail);
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
      try {
        // Refused while an answer is written: the branch being answered stays in view.
        if (!(await this.switchBranch(messageId)) || this.state.conversationId !== conversationId) return;
      } catch {
        return; // gone since it was found: the conversation is shown as it is
      }
    }
    this.setState({ focus: { messageId, nonce: ++this.focusCount } });
  }

  /** Show the branch the server sent. Messages already shown keep their key and text, so the part of the branch
   * that did not change is not drawn again. */
  private show(detail: ConversationDetail, patch: Partial<ChatState> = {}): void {
    const shown = new Map(this.state.messages.filter((m) => m.id !== null).map((m) => [m.id, m]));
    const messages = detail.messages.map((saved) => {
      const known = shown.get(saved.id);
      const fresh = fromServer(saved);
      if (!known || known.status !== fresh.status || known.text.text !== saved.content) return fresh;
      const same =
        known.error === fresh.error &&
        sameIds(known.siblingIds, fresh.siblingIds) &&
        known.attachments.length === fresh.attachments.length &&
        known.citations.length === fresh.citations.length;
      const { siblingIds, error, attachments, citations } = fresh;
      return same ? known : { ...known, siblingIds, error, attachments, citations };
    });
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
        sent: null,
      };
    }
    this.setState({ messages, loading: false, generation, ...patch });
    if (generation) this.resume(generation);
  }
}

/** What a new prompt does to the branch shown. */
type Turn =
  | { kind: "new" } // a question after the last message
  | { kind: "edit"; edited: string; versions: readonly string[] } // a new version of a question
  | { kind: "answer-again"; asked: string; answers: readonly string[] }; // a new version of its answer

/** A message's versions the server knows of (a message never saved stands in for none). */
function savedVersions(message: ChatMessage): readonly string[] {
  return message.id === null ? message.siblingIds.filter((id) => id !== message.key) : message.siblingIds;
}

function sameIds(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}

/** The message with the id the server gave it, which also replaces its key among its turn's versions. */
function named(message: ChatMessage, id: string): ChatMessage {
  return { ...message, id, siblingIds: message.siblingIds.map((s) => (s === message.key ? id : s)) };
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
    siblingIds: message.sibling_ids.length > 0 ? message.sibling_ids : [message.id],
    attachments: message.attachments ?? [],
    citations: message.citations ?? [],
  };
}

/** Why a saved answer ended early: the server's words for its saved reason (the live error event's text is gone
 * after a reload), or a general one for its status; null for an answer that did not fail. */
function endedText(message: MessageOut): string | null {
  return message.error ?? STATUS_TEXT[message.status as MessageStatus] ?? null;
}
