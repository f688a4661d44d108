// The WebSocket's messages (README "API"; parley.server.routes.ws). Not in the OpenAPI spec, so written here.
import type { ChatParams, CitationOut } from "../api/types";

export interface SendPrompt {
  action: "sendprompt";
  payload: {
    msgid: string;
    prompt: string;
    conversation_id?: string;
    params: ChatParams;
    edit_message_id?: string;
    /** Ids of ready files the prompt carries (sent only when there are some). */
    attachments?: string[];
  };
}

export interface StopAction {
  action: "stop";
  payload: { msgid: string };
}

/** Rejoin an answer having its text up to after_seq: what was missed comes as one delta, then the rest. */
export interface ResumeAction {
  action: "resume";
  payload: { msgid: string; conversation_id: string; after_seq: number };
}

export type ClientMessage = SendPrompt | StopAction | ResumeAction;

export interface StartEvent {
  type: "start";
  msgid: string;
  conversation_id: string;
  message_id: string;
  user_message_id: string;
  model: string;
  title: string;
  /** The passages the answer is given to read, known before its first word (absent from an older server). */
  citations?: CitationOut[];
}

export interface DeltaEvent {
  type: "delta";
  msgid: string;
  /** The answer's length in characters (Unicode code points, not UTF-16 units) once text is added. */
  seq: number;
  text: string;
}

export interface DoneEvent {
  type: "done";
  msgid: string;
  finish_reason: string;
  usage: Record<string, number> | null;
}

export interface ErrorEvent {
  type: "error";
  msgid: string | null;
  code: string;
  message: string;
}

export type ServerEvent = StartEvent | DeltaEvent | DoneEvent | ErrorEvent;

/** The event in a frame, or null for anything that is not one (never throws). */
export function parseServerEvent(data: unknown): ServerEvent | null {
  if (typeof data !== "string") return null;
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const event = value as Record<string, unknown>;
  const msgidOk = typeof event.msgid === "string";
  switch (event.type) {
    case "start":
      return msgidOk && typeof event.conversation_id === "string" && typeof event.message_id === "string"
        ? (event as unknown as StartEvent)
        : null;
    case "delta":
      return msgidOk && typeof event.text === "string" && typeof event.seq === "number"
        ? (event as unknown as DeltaEvent)
        : null;
    case "done":
      return msgidOk ? (event as unknown as DoneEvent) : null;
    case "error":
      return typeof event.message === "string" && typeof event.code === "string"
        ? (event as unknown as ErrorEvent)
        : null;
    default:
      return null;
  }
}

/** A random id for a request (crypto.randomUUID needs a secure context; this does not). */
export function newMsgid(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A text's length as the server counts it (Unicode code points). */
export function codePoints(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++; // a surrogate pair is one character
    }
    count++;
  }
  return count;
}

/** What a delta adds to an answer shown up to ``have`` characters: null when it adds nothing. A delta starting
 * before ``have`` (a catch-up, or one seen twice) gives only its new part; one starting after it would leave a gap
 * and gives nothing (on a socket that followed the answer before, live deltas can come before the catch-up that
 * a resume asked for, and the catch-up fills the gap). */
export function textAfter(delta: DeltaEvent, have: number): string | null {
  if (delta.seq <= have) return null;
  const start = delta.seq - codePoints(delta.text);
  if (start > have) return null;
  if (start === have) return delta.text;
  return Array.from(delta.text)
    .slice(have - start)
    .join("");
}
