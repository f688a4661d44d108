import { describe, expect, it, vi } from "vitest";
import { frameThrottle } from "../src/chat/frame";

function fakeFrames() {
  const pending = new Map<number, FrameRequestCallback>();
  let next = 1;
  return {
    request: (cb: FrameRequestCallback) => {
      pending.set(next, cb);
      return next++;
    },
    cancel: (handle: number) => pending.delete(handle),
    tick: () => {
      const callbacks = [...pending.values()];
      pending.clear();
      for (const cb of callbacks) cb(0);
    },
    get count() {
      return pending.size;
    },
  };
}

describe("frameThrottle", () => {
  it("runs once per frame however many times it is scheduled", () => {
    const frames = fakeFrames();
    const callback = vi.fn();
    const throttle = frameThrottle(callback, frames.request, frames.cancel);
    for (let i = 0; i < 100; i += 1) throttle.schedule();
    expect(frames.count).toBe(1);
    frames.tick();
    expect(callback).toHaveBeenCalledTimes(1);
    throttle.schedule();
    throttle.schedule();
    frames.tick();
    expect(callback).toHaveBeenCalledTimes(2);
  });

  it("flushes a pending run at once, and cancels", () => {
    const frames = fakeFrames();
    const callback = vi.fn();
    const throttle = frameThrottle(callback, frames.request, frames.cancel);
    throttle.flush();
    expect(callback).not.toHaveBeenCalled();
    throttle.schedule();
    throttle.flush();
    expect(callback).toHaveBeenCalledTimes(1);
    expect(frames.count).toBe(0);
    throttle.schedule();
    throttle.cancel();
    frames.tick();
    expect(callback).toHaveBeenCalledTimes(1);
  });
});
