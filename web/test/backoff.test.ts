import { describe, expect, it } from "vitest";
import { backoffDelay } from "../src/ws/backoff";

describe("backoffDelay", () => {
  it("doubles from the base, with jitter in the upper half", () => {
    expect(backoffDelay(0, { random: () => 0 })).toBe(250);
    expect(backoffDelay(0, { random: () => 1 })).toBe(500);
    expect(backoffDelay(1, { random: () => 1 })).toBe(1000);
    expect(backoffDelay(3, { random: () => 0.5 })).toBe(3000);
  });

  it("is capped", () => {
    expect(backoffDelay(20, { random: () => 1 })).toBe(15_000);
    expect(backoffDelay(100, { random: () => 0 })).toBe(7500);
  });
});
