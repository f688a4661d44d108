// The WebSocket's messages (README "API"; parley.server.routes.ws). Not in the OpenAPI spec, so written here.
import type { ChatParams } from "../api/types";

export interface SendPrompt {
  action: "sendprompt";
  payload: {
    msgid: string;
    prompt: string;
    conversation_id?: string;
    params: ChatParams;
    edit_message_id?: string;
  };
}

export interface StopAction {
  action: "stop";
  payload: { msgid: string };
}

export type ClientMessage = SendPrompt | StopAction;

export interface StartEvent {
  type: "start";
  msgid: string;
  conversation_id: string;
  message_id: string;
  user_message_id: string;
  model: string;
  title: string;
}

export interface DeltaEvent {
  type: "delta";
  msgid: string;
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
