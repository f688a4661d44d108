import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ServerEvent } from "../src/ws/protocol";
import { parseServerEvent } from "../src/ws/protocol";
import { ChatSocket, type SocketState } from "../src/ws/socket";

class FakeSocket {
  static instances: FakeSocket[] = [];
  readyState = 0;
  sent: string[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  onclose: (() => void) | null = null;
  closedWith: number | null = null;

  constructor(readonly url: string) {
    FakeSocket.instances.push(this);
  }

  open() {
    this.readyState = 1;
    this.onopen?.();
  }

  receive(data: unknown) {
    this.onmessage?.({ data: typeof data === "string" ? data : JSON.stringify(data) } as MessageEvent);
  }

  drop() {
    this.readyState = 3;
    this.onclose?.();
  }

  send(data: string) {
    this.sent.push(data);
  }

  close(code: number) {
    this.closedWith = code;
    this.readyState = 3;
  }
}

function setup(overrides: Partial<ConstructorParameters<typeof ChatSocket>[0]> = {}) {
  const events: ServerEvent[] = [];
  const states: SocketState[] = [];
  const lost = vi.fn();
  let tickets = 0;
  const socket = new ChatSocket({
    url: "ws://127.0.0.1:8000/ws",
    getTicket: async () => `ticket-${++tickets}`,
    onEvent: (e) => events.push(e),
    onState: (s) => states.push(s),
    onLost: lost,
    createSocket: (url) => new FakeSocket(url) as unknown as WebSocket,
    backoff: (attempt) => 1000 * 2 ** attempt,
    ...overrides,
  });
  return { socket, events, states, lost };
}

const last = () => FakeSocket.instances[FakeSocket.instances.length - 1]!;

beforeEach(() => {
  vi.useFakeTimers();
  vi.stubGlobal("WebSocket", { OPEN: 1 });
  FakeSocket.instances = [];
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe("ChatSocket", () => {
  it("opens with a fresh ticket in the URL and passes events on", async () => {
    const { socket, events, states } = setup();
    socket.start();
    await vi.runAllTicks();
    await Promise.resolve();
    expect(last().url).toBe("ws://127.0.0.1:8000/ws?ticket=ticket-1");
    last().open();
    expect(socket.isOpen).toBe(true);
    expect(states.at(-1)).toMatchObject({ status: "open", everOpened: true });
    last().receive({ type: "delta", msgid: "m", seq: 1, text: "hi" });
    last().receive("not json");
    last().receive({ type: "unknown" });
    expect(events).toEqual([{ type: "delta", msgid: "m", seq: 1, text: "hi" }]);
    expect(socket.send({ action: "stop", payload: { msgid: "m" } })).toBe(true);
    expect(JSON.parse(last().sent[0]!)).toEqual({ action: "stop", payload: { msgid: "m" } });
  });

  it("reconnects with backoff and a new ticket after the socket drops", async () => {
    const opened = vi.fn();
    const { socket, states, lost } = setup({ onOpen: opened });
    socket.start();
    await Promise.resolve();
    await Promise.resolve();
    last().open();
    expect(opened).toHaveBeenCalledOnce(); // the chat store rejoins an answer in flight then
    last().drop();
    expect(lost).toHaveBeenCalledOnce();
    expect(states.at(-1)).toMatchObject({ status: "reconnecting" });
    expect(socket.send({ action: "stop", payload: { msgid: "m" } })).toBe(false);
    expect(FakeSocket.instances).toHaveLength(1);

    await vi.advanceTimersByTimeAsync(999);
    expect(FakeSocket.instances).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(FakeSocket.instances).toHaveLength(2);
    expect(last().url).toContain("ticket=ticket-2");
    last().drop(); // failed to connect: the next wait doubles
    expect(lost).toHaveBeenCalledOnce();
    await vi.advanceTimersByTimeAsync(1999);
    expect(FakeSocket.instances).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(FakeSocket.instances).toHaveLength(3);
    last().open();
    last().drop(); // the attempt count was reset by the open socket
    await vi.advanceTimersByTimeAsync(1000);
    expect(FakeSocket.instances).toHaveLength(4);
  });

  it("retries at once when asked, and when the browser comes back online", async () => {
    const { socket } = setup();
    socket.start();
    await Promise.resolve();
    await Promise.resolve();
    last().open();
    last().drop();
    socket.reconnectNow();
    await Promise.resolve();
    await Promise.resolve();
    expect(FakeSocket.instances).toHaveLength(2);
    last().drop();
    window.dispatchEvent(new Event("online"));
    await Promise.resolve();
    await Promise.resolve();
    expect(FakeSocket.instances).toHaveLength(3);
  });

  it("keeps retrying when the ticket request fails, and stops when the session is over", async () => {
    let fail: "network" | "401" = "network";
    const { socket, states } = setup({
      getTicket: async () => {
        throw new Error(fail);
      },
      isFatal: (error) => (error as Error).message === "401",
    });
    socket.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(states.at(-1)).toMatchObject({ status: "reconnecting" });
    fail = "401";
    await vi.advanceTimersByTimeAsync(1000);
    expect(states.at(-1)).toMatchObject({ status: "closed" });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeSocket.instances).toHaveLength(0);
  });

  it("closes cleanly on stop and does not reconnect", async () => {
    const { socket, lost } = setup();
    socket.start();
    await Promise.resolve();
    await Promise.resolve();
    const first = last();
    first.open();
    socket.stop();
    expect(first.closedWith).toBe(1000);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeSocket.instances).toHaveLength(1);
    expect(lost).not.toHaveBeenCalled();
  });
});

describe("parseServerEvent", () => {
  it("accepts the four event types and nothing else", () => {
    expect(parseServerEvent('{"type":"done","msgid":"a","finish_reason":"stop","usage":null}')?.type).toBe("done");
    expect(parseServerEvent('{"type":"error","msgid":null,"code":"invalid_input","message":"bad"}')?.type).toBe("error");
    expect(parseServerEvent('{"type":"delta","msgid":"a","seq":"1","text":"x"}')).toBeNull();
    expect(parseServerEvent("[1]")).toBeNull();
    expect(parseServerEvent(42)).toBeNull();
  });
});
