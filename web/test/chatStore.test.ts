import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "../src/api/client";
import type { AttachmentRef, CitationOut, ConversationDetail, MessageOut } from "../src/api/types";
import { ChatStore, versionsOf, type Versions } from "../src/chat/chatStore";
import type { FrameThrottle } from "../src/chat/frame";
import type { ClientMessage, SendPrompt } from "../src/ws/protocol";

function message(id: string, role: "user" | "assistant", content: string, extra: Partial<MessageOut> = {}): MessageOut {
  return {
    id,
    seq: 0,
    parent_id: null,
    sibling_ids: [id],
    attachments: [],
    citations: [],
    role,
    content,
    status: "complete",
    model: null,
    finish_reason: null,
    error: null,
    usage: null,
    msgid: role === "user" ? `msgid-${id}` : null,
    created_at: 0,
    updated_at: 0,
    ...extra,
  };
}

function detail(messages: MessageOut[]): ConversationDetail {
  const leaf = messages[messages.length - 1]?.id ?? null;
  return { id: "c1", title: "T", model: "m", created_at: 0, updated_at: 0, current_leaf_id: leaf, messages };
}

function setup(
  options: {
    connected?: boolean;
    conversation?: ConversationDetail;
    /** What PUT .../leaf answers, by the message id asked for. */
    branches?: Record<string, ConversationDetail>;
  } = {},
) {
  const sent: ClientMessage[] = [];
  const frames: (() => void)[] = [];
  const getConversation = vi.fn(async () => {
    if (!options.conversation) throw new ApiError(404, "not_found", "Conversation not found.");
    return structuredClone(options.conversation);
  });
  const switchBranch = vi.fn(async (_conversationId: string, messageId: string, _signal?: AbortSignal) => {
    const branch = options.branches?.[messageId];
    if (!branch) throw new ApiError(404, "not_found", "Message not found.");
    return structuredClone(branch);
  });
  const onCreated = vi.fn();
  const onRefused = vi.fn();
  const store = new ChatStore({
    api: { getConversation, switchBranch },
    send: (m) => {
      if (options.connected === false) return false;
      sent.push(m);
      return true;
    },
    params: () => ({ model: "fake-model", temperature: 0.5 }),
    onCreated,
    onRefused,
    frame: (callback) => {
      let pending = false;
      const throttle: FrameThrottle = {
        schedule: () => {
          if (!pending) {
            pending = true;
            frames.push(() => {
              pending = false;
              callback();
            });
          }
        },
        flush: () => {
          if (pending) {
            pending = false;
            callback();
          }
        },
        cancel: () => {
          pending = false;
        },
      };
      return throttle;
    },
  });
  const runFrames = () => frames.splice(0).forEach((f) => f());
  return { store, sent, getConversation, switchBranch, onCreated, onRefused, runFrames };
}

const prompt = (m: ClientMessage | undefined) => (m as SendPrompt).payload;

function start(store: ChatStore, msgid: string, conversationId = "c1"): void {
  store.handleEvent({
    type: "start",
    msgid,
    conversation_id: conversationId,
    message_id: "a-new",
    user_message_id: "u-new",
    model: "fake-model",
    title: "Hello",
  });
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe("ChatStore", () => {
  it("sends a prompt with the settings and streams the answer in, once per frame", () => {
    const { store, sent, onCreated, runFrames } = setup();
    expect(store.send("Hello")).toBe(true);
    const payload = prompt(sent[0]);
    expect(payload).toMatchObject({ prompt: "Hello", params: { model: "fake-model", temperature: 0.5 } });
    expect(payload.conversation_id).toBeUndefined();
    expect(store.getState().messages.map((m) => [m.role, m.status])).toEqual([
      ["user", "complete"],
      ["assistant", "streaming"],
    ]);
    expect(store.send("again")).toBe(false); // one answer at a time

    start(store, payload.msgid);
    expect(store.getState().conversationId).toBe("c1");
    expect(onCreated).toHaveBeenCalledOnce();
    expect(store.getState().messages.map((m) => m.id)).toEqual(["u-new", "a-new"]);

    const tick = store.getState().tick;
    for (let seq = 1; seq <= 50; seq += 1) store.handleEvent({ type: "delta", msgid: payload.msgid, seq, text: "x" });
    store.handleEvent({ type: "delta", msgid: payload.msgid, seq: 3, text: "DUPLICATE" });
    expect(store.getState().tick).toBe(tick);
    runFrames();
    expect(store.getState().tick).toBe(tick + 1);
    expect(store.getState().messages[1]!.text.text).toBe("x".repeat(50));

    store.handleEvent({ type: "done", msgid: payload.msgid, finish_reason: "stop", usage: null });
    expect(store.getState().generation).toBeNull();
    expect(store.getState().messages[1]!.status).toBe("complete");
  });

  it("ignores events of other requests", () => {
    const { store, sent } = setup();
    store.send("Hello");
    store.handleEvent({ type: "delta", msgid: "someone-else", seq: 1, text: "no" });
    store.handleEvent({ type: "done", msgid: "someone-else", finish_reason: "stop", usage: null });
    expect(store.getState().generation?.msgid).toBe(prompt(sent[0]).msgid);
    expect(store.getState().messages[1]!.text.length).toBe(0);
  });

  it("does not add the messages when the socket is down", () => {
    const { store } = setup({ connected: false });
    expect(store.send("Hello")).toBe(false);
    expect(store.getState().messages).toEqual([]);
  });

  it("stops the answer and shows it as stopped", () => {
    const { store, sent } = setup();
    store.send("Hello");
    const { msgid } = prompt(sent[0]);
    store.handleEvent({ type: "delta", msgid, seq: 4, text: "part" });
    store.stop();
    store.stop();
    expect(sent.filter((m) => m.action === "stop")).toEqual([{ action: "stop", payload: { msgid } }]);
    store.handleEvent({ type: "done", msgid, finish_reason: "stopped", usage: null });
    expect(store.getState().messages[1]).toMatchObject({ status: "stopped" });
    expect(store.getState().messages[1]!.text.text).toBe("part");
  });

  it("shows an error, or a cut-off answer, with the server's message", () => {
    const { store, sent } = setup();
    store.send("Hello");
    const first = prompt(sent[0]).msgid;
    store.handleEvent({ type: "error", msgid: first, code: "invalid_input", message: "temperature must be between 0 and 2." });
    expect(store.getState().messages[1]).toMatchObject({ status: "error", error: "temperature must be between 0 and 2." });

    store.regenerate(); // never saved: sent again as a new prompt
    const second = prompt(sent[1]);
    expect(second.edit_message_id).toBeUndefined();
    expect(second.prompt).toBe("Hello");
    expect(store.getState().messages).toHaveLength(2);
    start(store, second.msgid);
    store.handleEvent({ type: "delta", msgid: second.msgid, seq: 4, text: "half" });
    store.handleEvent({ type: "error", msgid: second.msgid, code: "stream_interrupted", message: "cut" });
    expect(store.getState().messages[1]).toMatchObject({ status: "interrupted", error: "cut" });
  });

  it("regenerates the last answer by replacing the last user message", async () => {
    const conversation = detail([message("u1", "user", "First"), message("a1", "assistant", "One"), message("u2", "user", "Second"), message("a2", "assistant", "Two")]);
    const { store, sent } = setup({ conversation });
    store.open("c1");
    await vi.runAllTimersAsync();
    expect(store.getState().messages).toHaveLength(4);
    expect(store.regenerate()).toBe(true);
    expect(prompt(sent[0])).toMatchObject({ conversation_id: "c1", edit_message_id: "u2", prompt: "Second" });
    expect(store.getState().messages.map((m) => m.text.text)).toEqual(["First", "One", "Second", ""]);
  });

  it("edits a user message: it and everything after it are replaced", async () => {
    const conversation = detail([message("u1", "user", "First"), message("a1", "assistant", "One"), message("u2", "user", "Second"), message("a2", "assistant", "Two")]);
    const { store, sent } = setup({ conversation });
    store.open("c1");
    await vi.runAllTimersAsync();
    expect(store.editAndResend("u1", "First, edited")).toBe(true);
    expect(prompt(sent[0])).toMatchObject({ conversation_id: "c1", edit_message_id: "u1", prompt: "First, edited" });
    expect(store.getState().messages.map((m) => m.text.text)).toEqual(["First, edited", ""]);
  });

  it("stops a regenerated answer found still being written with its own request's msgid", async () => {
    const conversation = detail([
      message("u1", "user", "Q"),
      message("a2", "assistant", "Again", { status: "streaming", parent_id: "u1", sibling_ids: ["a1", "a2"], msgid: "regen" }),
    ]);
    const { store, sent } = setup({ conversation });
    store.open("c1");
    await vi.advanceTimersByTimeAsync(0);
    expect(store.getState().generation).toMatchObject({ msgid: "regen", following: "socket", lastSeq: 5 });
    store.stop();
    expect(sent).toEqual([
      { action: "resume", payload: { msgid: "regen", conversation_id: "c1", after_seq: 5 } },
      { action: "stop", payload: { msgid: "regen" } },
    ]);
  });

  it("rejoins an answer that is still being written when the chat is opened, from the saved text", async () => {
    // "Pär 🙂": the seq counts characters as the server does (an emoji is one, not two UTF-16 units).
    const conversation = detail([message("u1", "user", "Q"), message("a1", "assistant", "Pär 🙂", { status: "streaming" })]);
    const { store, sent, getConversation, runFrames } = setup({ conversation });
    store.open("c1");
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toEqual([{ action: "resume", payload: { msgid: "msgid-u1", conversation_id: "c1", after_seq: 5 } }]);
    expect(store.getState().generation).toMatchObject({ msgid: "msgid-u1", following: "socket", lastSeq: 5 });

    // A live delta from further on (this socket followed the answer before) comes first: it would leave a gap.
    store.handleEvent({ type: "delta", msgid: "msgid-u1", seq: 12, text: " an" });
    // What was missed (it may repeat a little of what the page has), then live deltas, a duplicate among them.
    store.handleEvent({ type: "delta", msgid: "msgid-u1", seq: 9, text: "🙂 ial" });
    store.handleEvent({ type: "delta", msgid: "msgid-u1", seq: 12, text: " an" });
    store.handleEvent({ type: "delta", msgid: "msgid-u1", seq: 12, text: " an" });
    store.handleEvent({ type: "delta", msgid: "msgid-u1", seq: 19, text: "swer..." });
    runFrames();
    expect(store.getState().messages[1]!.text.text).toBe("Pär 🙂 ial answer...");

    store.stop(); // a reloaded page can still stop it: the msgid is the user message's
    expect(sent[1]).toEqual({ action: "stop", payload: { msgid: "msgid-u1" } });
    store.handleEvent({ type: "done", msgid: "msgid-u1", finish_reason: "stopped", usage: null });
    expect(store.getState().generation).toBeNull();
    expect(store.getState().messages[1]).toMatchObject({ status: "stopped" });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(getConversation).toHaveBeenCalledTimes(1); // nothing is polled
  });

  it("waits for the socket to rejoin an answer found streaming while it is closed", async () => {
    const conversation = detail([message("u1", "user", "Q"), message("a1", "assistant", "Par", { status: "streaming" })]);
    const { store, sent } = setup({ conversation, connected: false });
    store.open("c1");
    await vi.advanceTimersByTimeAsync(0);
    expect(store.getState().generation).toMatchObject({ following: "waiting", lastSeq: 3 });
    expect(sent).toEqual([]);
  });

  it("shows why a saved answer ended early, in the server's words when it has them", async () => {
    const conversation = detail([
      message("u1", "user", "Q"),
      message("a1", "assistant", "", { status: "error", finish_reason: "provider_timeout", error: "The model provider did not answer in time." }),
      message("u2", "user", "Q again"),
      message("a2", "assistant", "Half", { status: "interrupted", finish_reason: "cancelled" }),
      message("u3", "user", "Q once more"),
      message("a3", "assistant", "Whole", { finish_reason: "stop" }),
    ]);
    const { store } = setup({ conversation });
    store.open("c1");
    await vi.advanceTimersByTimeAsync(0);
    expect(store.getState().messages.filter((m) => m.role === "assistant").map((m) => m.error)).toEqual([
      "The model provider did not answer in time.",
      "The answer was cut off before it finished.",
      null,
    ]);
  });

  it("says why a rejoined answer ended", async () => {
    const conversation = detail([message("u1", "user", "Q"), message("a1", "assistant", "Par", { status: "streaming" })]);
    const { store } = setup({ conversation });
    store.open("c1");
    await vi.advanceTimersByTimeAsync(0);
    store.handleEvent({ type: "error", msgid: "msgid-u1", code: "abandoned", message: "The server stopped before the answer finished." });
    expect(store.getState().generation).toBeNull();
    expect(store.getState().messages[1]).toMatchObject({ status: "interrupted", error: "The server stopped before the answer finished." });
  });

  it("rejoins the answer when the socket comes back after it was lost mid-answer", () => {
    let connected = true;
    const sent: ClientMessage[] = [];
    const { store, runFrames } = setup();
    (store as unknown as { deps: { send: (m: ClientMessage) => boolean } }).deps.send = (m) => {
      if (!connected) return false;
      sent.push(m);
      return true;
    };
    store.send("Hello");
    const { msgid } = prompt(sent[0]);
    start(store, msgid);
    store.handleEvent({ type: "delta", msgid, seq: 5, text: "Hello" });
    connected = false;
    store.socketLost();
    expect(store.getState().generation?.following).toBe("waiting");
    connected = true;
    store.socketOpened();
    expect(sent[1]).toEqual({ action: "resume", payload: { msgid, conversation_id: "c1", after_seq: 5 } });
    store.handleEvent({ type: "delta", msgid, seq: 11, text: " world" });
    store.handleEvent({ type: "done", msgid, finish_reason: "stop", usage: null });
    runFrames();
    expect(store.getState().messages[1]).toMatchObject({ status: "complete" });
    expect(store.getState().messages[1]!.text.text).toBe("Hello world");
  });

  it("fails an answer whose socket was lost before it started", () => {
    const { store } = setup();
    store.send("Hello");
    store.socketLost();
    expect(store.getState().messages[1]).toMatchObject({ status: "error" });
    expect(store.getState().generation).toBeNull();
  });

  it("reports a chat that does not exist, and opening another resets", async () => {
    const { store } = setup();
    store.open("gone");
    await vi.advanceTimersByTimeAsync(0);
    expect(store.getState().loadError).toMatch(/does not exist/);
    store.open(null);
    expect(store.getState()).toMatchObject({ conversationId: null, loadError: null, messages: [] });
  });

  it("keeps the streaming state when the address changes to the new chat's id", () => {
    const { store, sent } = setup();
    store.send("Hello");
    start(store, prompt(sent[0]).msgid);
    store.open("c1");
    expect(store.getState().generation).not.toBeNull();
    expect(store.getState().messages).toHaveLength(2);
  });
});

describe("ChatStore versions (branches)", () => {
  // One question answered twice: the first answer's branch and the second's.
  const question = () => message("u1", "user", "Question", { sibling_ids: ["u1"] });
  const firstBranch = () =>
    detail([question(), message("a1", "assistant", "First answer", { parent_id: "u1", sibling_ids: ["a1", "a2"] })]);
  const secondBranch = () =>
    detail([question(), message("a2", "assistant", "Second answer", { parent_id: "u1", sibling_ids: ["a1", "a2"] })]);
  const versions = (store: ChatStore) => store.getState().messages.map((m) => [m.text.text, versionsOf(m)]);

  it("reads where each message stands among its turn's versions", async () => {
    const { store } = setup({ conversation: secondBranch() });
    store.open("c1");
    await vi.advanceTimersByTimeAsync(0);
    expect(versions(store)).toEqual([
      ["Question", { position: 1, total: 1, previous: null, next: null }],
      ["Second answer", { position: 2, total: 2, previous: "a1", next: null }],
    ]);
  });

  it("regenerating adds a version of the answer beside the old one: 2 / 2 once the server names it", async () => {
    const answeredOnce = detail([question(), message("a1", "assistant", "First answer", { parent_id: "u1" })]);
    const { store, sent } = setup({ conversation: answeredOnce });
    store.open("c1");
    await vi.advanceTimersByTimeAsync(0);
    const questionKey = store.getState().messages[0]!.key;
    expect(store.regenerate()).toBe(true);
    const payload = prompt(sent[0]);
    expect(payload).toMatchObject({ conversation_id: "c1", edit_message_id: "u1", prompt: "Question" });
    // The question stays as it is (same message, same key); the new answer is the second version.
    expect(store.getState().messages[0]!.key).toBe(questionKey);
    expect(versions(store)[1]![1]).toMatchObject({ position: 2, total: 2, previous: "a1" });

    store.handleEvent({ type: "start", msgid: payload.msgid, conversation_id: "c1", message_id: "a2", user_message_id: "u1", model: "m", title: "T" });
    store.handleEvent({ type: "done", msgid: payload.msgid, finish_reason: "stop", usage: null });
    expect(store.getState().messages.map((m) => m.id)).toEqual(["u1", "a2"]);
    expect(store.getState().messages[1]!.siblingIds).toEqual(["a1", "a2"]);
  });

  it("editing adds a version of the question: the edited one shows 2 / 2, its new answer 1 / 1", async () => {
    const conversation = detail([
      message("u1", "user", "First", { sibling_ids: ["u1"] }),
      message("a1", "assistant", "One", { parent_id: "u1" }),
      message("u2", "user", "Second", { parent_id: "a1", sibling_ids: ["u2"] }),
      message("a2", "assistant", "Two", { parent_id: "u2" }),
    ]);
    const { store, sent } = setup({ conversation });
    store.open("c1");
    await vi.advanceTimersByTimeAsync(0);
    expect(store.editAndResend("u2", "Second, edited")).toBe(true);
    const payload = prompt(sent[0]);
    expect(payload).toMatchObject({ edit_message_id: "u2", prompt: "Second, edited" });
    store.handleEvent({ type: "start", msgid: payload.msgid, conversation_id: "c1", message_id: "a3", user_message_id: "u3", model: "m", title: "T" });
    store.handleEvent({ type: "done", msgid: payload.msgid, finish_reason: "stop", usage: null });
    expect(versions(store).map(([text, v]) => [text, (v as Versions).position, (v as Versions).total])).toEqual([
      ["First", 1, 1],
      ["One", 1, 1],
      ["Second, edited", 2, 2],
      ["", 1, 1],
    ]);
    expect(versionsOf(store.getState().messages[2]!).previous).toBe("u2");
  });

  it("an edit that keeps the text answers the same question again, as the server does", async () => {
    const { store, sent } = setup({ conversation: firstBranch() });
    store.open("c1");
    await vi.advanceTimersByTimeAsync(0);
    expect(store.editAndResend("u1", "Question")).toBe(true);
    expect(prompt(sent[0]).edit_message_id).toBe("u1");
    expect(store.getState().messages.map((m) => [m.id, m.siblingIds.length])).toEqual([
      ["u1", 1],
      [null, 3], // a1, a2 and this one
    ]);
  });

  it("switches to another version: the server's branch is shown, and what did not change keeps its place", async () => {
    const { store, switchBranch } = setup({ conversation: secondBranch(), branches: { a1: firstBranch() } });
    store.open("c1");
    await vi.advanceTimersByTimeAsync(0);
    const before = store.getState().messages[0]!;

    const switched = store.switchBranch("a1");
    expect(store.getState().switching).toBe(true);
    expect(store.isBusy).toBe(true);
    expect(store.send("Not now")).toBe(false); // it would continue whichever branch the server has
    expect(await switched).toBe(true);

    expect(switchBranch).toHaveBeenCalledWith("c1", "a1", expect.any(AbortSignal));
    expect(store.getState().switching).toBe(false);
    expect(store.getState().messages.map((m) => m.text.text)).toEqual(["Question", "First answer"]);
    expect(versionsOf(store.getState().messages[1]!)).toEqual({ position: 1, total: 2, previous: null, next: "a2" });
    expect(store.getState().messages[0]).toBe(before); // not drawn again
  });

  it("does not switch while an answer is being written", async () => {
    const { store, switchBranch } = setup({ conversation: secondBranch(), branches: { a1: firstBranch() } });
    store.open("c1");
    await vi.advanceTimersByTimeAsync(0);
    store.send("Next question");
    expect(await store.switchBranch("a1")).toBe(false);
    expect(switchBranch).not.toHaveBeenCalled();
  });

  it("a refused switch leaves the branch as it was and says why", async () => {
    const { store } = setup({ conversation: secondBranch(), branches: {} });
    store.open("c1");
    await vi.advanceTimersByTimeAsync(0);
    await expect(store.switchBranch("a1")).rejects.toMatchObject({ status: 404, message: "Message not found." });
    expect(store.getState().switching).toBe(false);
    expect(store.getState().messages.map((m) => m.text.text)).toEqual(["Question", "Second answer"]);
    expect(store.send("Go on")).toBe(true);
  });

  it("a switch overtaken by opening another chat changes nothing", async () => {
    const { store } = setup({ conversation: secondBranch(), branches: { a1: firstBranch() } });
    store.open("c1");
    await vi.advanceTimersByTimeAsync(0);
    const switched = store.switchBranch("a1");
    store.open(null);
    expect(await switched).toBe(false);
    expect(store.getState()).toMatchObject({ conversationId: null, messages: [], switching: false });
  });

  it("follows the answer of a branch switched to while it is still being written (in another tab)", async () => {
    const live = detail([
      question(),
      message("a2", "assistant", "Still go", { parent_id: "u1", sibling_ids: ["a1", "a2"], status: "streaming", msgid: "other-tab" }),
    ]);
    const { store, sent } = setup({ conversation: firstBranch(), branches: { a2: live } });
    store.open("c1");
    await vi.advanceTimersByTimeAsync(0);
    await store.switchBranch("a2");
    expect(store.getState().generation).toMatchObject({ msgid: "other-tab", following: "socket", lastSeq: 8 });
    expect(sent.at(-1)).toEqual({ action: "resume", payload: { msgid: "other-tab", conversation_id: "c1", after_seq: 8 } });
  });
});

describe("ChatStore with files", () => {
  const notes: AttachmentRef = { file_id: "f1", name: "notes.md", kind: "document", media_type: "text/markdown", size: 12 };
  const cat: AttachmentRef = { file_id: "f2", name: "cat.png", kind: "image", media_type: "image/png", size: 99 };
  const cited: CitationOut = { file_id: "f1", file_name: "notes.md", passage_index: 0, page: null, text: "hello" };

  it("sends the files' ids with the prompt and shows them on the question; none, no field", () => {
    const { store, sent } = setup();
    store.send("Plain");
    expect(prompt(sent[0])).not.toHaveProperty("attachments");
    store.handleEvent({ type: "error", msgid: prompt(sent[0]).msgid, code: "x", message: "failed" });

    store.send("Read these", [notes, cat]);
    expect(prompt(sent[1]).attachments).toEqual(["f1", "f2"]);
    const question = store.getState().messages.at(-2)!;
    expect(question.attachments).toEqual([notes, cat]);
    expect(store.getState().messages.at(-1)!.attachments).toEqual([]);
  });

  it("sends files without text, but not an empty message", () => {
    const { store, sent } = setup();
    expect(store.send("  ")).toBe(false);
    expect(sent).toEqual([]);
    expect(store.send("", [cat])).toBe(true);
    expect(prompt(sent[0]).attachments).toEqual(["f2"]);
  });

  it("shows the answer's sources from the start event", () => {
    const { store, sent } = setup();
    store.send("Read this", [notes]);
    const { msgid } = prompt(sent[0]);
    store.handleEvent({
      type: "start",
      msgid,
      conversation_id: "c1",
      message_id: "a-new",
      user_message_id: "u-new",
      model: "fake-model",
      title: "Read this",
      citations: [cited],
    });
    expect(store.getState().messages.map((m) => m.citations)).toEqual([[], [cited]]);
    start(store, "other"); // an older server's start event has none: nothing breaks
    expect(store.getState().messages[1]!.citations).toEqual([cited]);
  });

  it("shows saved files and sources, and takes them in when they first arrive", async () => {
    const saved = detail([
      message("u1", "user", "Read this", { attachments: [notes] }),
      message("a1", "assistant", "It says hello [1].", { parent_id: "u1", citations: [cited] }),
    ]);
    const { store } = setup({ conversation: saved });
    store.open("c1");
    await vi.advanceTimersByTimeAsync(0);
    expect(store.getState().messages.map((m) => [m.attachments, m.citations])).toEqual([
      [[notes], []],
      [[], [cited]],
    ]);
  });

  it("an edit carries the question's files; answering again sends none (the server has them)", async () => {
    const saved = detail([
      message("u1", "user", "Read this", { attachments: [notes] }),
      message("a1", "assistant", "Done.", { parent_id: "u1" }),
    ]);
    const { store, sent } = setup({ conversation: saved });
    store.open("c1");
    await vi.advanceTimersByTimeAsync(0);
    expect(store.regenerate()).toBe(true);
    expect(prompt(sent.at(-1))).not.toHaveProperty("attachments");
    store.handleEvent({ type: "done", msgid: prompt(sent.at(-1)).msgid, finish_reason: "stop", usage: null });

    expect(store.editAndResend("u1", "Read this again")).toBe(true);
    expect(prompt(sent.at(-1)).attachments).toEqual(["f1"]);
    expect(store.getState().messages[0]!.attachments).toEqual([notes]);
  });

  it("gives a prompt with an image back when the model cannot see, leaving the chat as it was", async () => {
    const saved = detail([message("u1", "user", "Hi"), message("a1", "assistant", "Hello.", { parent_id: "u1" })]);
    const { store, sent, onRefused } = setup({ conversation: saved });
    store.open("c1");
    await vi.advanceTimersByTimeAsync(0);
    const before = store.getState().messages;
    store.send("What is this?", [cat]);
    expect(store.getState().messages).toHaveLength(4);
    store.handleEvent({
      type: "error",
      msgid: prompt(sent.at(-1)).msgid,
      code: "model_cannot_see",
      message: "Fake cannot see images.",
    });
    expect(store.getState().messages).toBe(before);
    expect(store.getState().generation).toBeNull();
    expect(onRefused).toHaveBeenCalledWith({
      prompt: "What is this?",
      attachments: [cat],
      code: "model_cannot_see",
      message: "Fake cannot see images.",
    });

    // An edit refused the same way fails as an answer does (there is no new prompt to give back).
    const { store: edited, sent: editSent, onRefused: editRefused } = setup({
      conversation: detail([message("u1", "user", "Hi", { attachments: [cat] }), message("a1", "assistant", "Hello.")]),
    });
    edited.open("c1");
    await vi.advanceTimersByTimeAsync(0);
    edited.editAndResend("u1", "What is this?");
    edited.handleEvent({ type: "error", msgid: prompt(editSent.at(-1)).msgid, code: "model_cannot_see", message: "No." });
    expect(editRefused).not.toHaveBeenCalled();
    expect(edited.getState().messages.at(-1)).toMatchObject({ status: "error", error: "No." });

    // Any other failure is the answer's, as before.
    store.send("What is this?", [cat]);
    store.handleEvent({ type: "error", msgid: prompt(sent.at(-1)).msgid, code: "rate_limited", message: "Slow down." });
    expect(store.getState().messages.at(-1)).toMatchObject({ status: "error", error: "Slow down." });
    expect(onRefused).toHaveBeenCalledTimes(1);
  });
});
