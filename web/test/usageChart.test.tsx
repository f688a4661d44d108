import { render } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { UsageDay } from "../src/api/types";
import { daysBetween, scale, shapeUsage, shiftDay, shortTokens } from "../src/usage/chartData";
import { describe as describeChart, UsageChart } from "../src/usage/UsageChart";

const row = (day: string, model: string, prompt: number, completion: number, requests = 1): UsageDay => ({
  day,
  model,
  prompt_tokens: prompt,
  completion_tokens: completion,
  requests,
});

describe("chart data", () => {
  it("lists every UTC day of a range, across month and year ends", () => {
    expect(daysBetween("2026-12-30", "2027-01-02")).toEqual(["2026-12-30", "2026-12-31", "2027-01-01", "2027-01-02"]);
    expect(daysBetween("2026-03-01", "2026-02-27")).toEqual([]);
    expect(daysBetween("2024-02-28", "2024-03-01")).toHaveLength(3); // a leap day
    expect(shiftDay("2026-01-01", -29)).toBe("2025-12-03");
  });

  it("stacks models per day, fills days without use with zero and puts the biggest model first", () => {
    const data = shapeUsage(
      [
        row("2026-12-01", "small", 1, 1),
        row("2026-12-03", "big", 100, 50),
        row("2026-12-03", "small", 5, 5),
        row("2026-11-30", "big", 999, 999), // outside the range: left out
      ],
      "2026-12-01",
      "2026-12-03",
    );
    expect(data.days).toEqual(["2026-12-01", "2026-12-02", "2026-12-03"]);
    expect(data.series).toEqual([
      { model: "big", values: [0, 0, 150] },
      { model: "small", values: [2, 0, 10] },
    ]);
    expect(data.dayTotals).toEqual([2, 0, 160]);
    expect(data.max).toBeGreaterThanOrEqual(160);
    expect(data.ticks[0]).toBe(0);
    expect(data.ticks[data.ticks.length - 1]).toBe(data.max);
  });

  it("scales the y axis to round steps", () => {
    expect(scale(0)).toEqual({ max: 1, ticks: [0, 1] });
    expect(scale(160)).toEqual({ max: 200, ticks: [0, 50, 100, 150, 200] });
    expect(scale(7)).toEqual({ max: 8, ticks: [0, 2, 4, 6, 8] });
    expect(scale(1_234_567).max).toBe(1_500_000);
    expect(shortTokens(1234)).toBe("1,234");
    expect(shortTokens(15_300)).toBe("15.3k");
    expect(shortTokens(2_000_000)).toBe("2M");
  });
});

describe("the chart", () => {
  it("draws one rect per day and model with its tokens, and says the figures in words", () => {
    const data = shapeUsage([row("2026-12-02", "m1", 30, 12), row("2026-12-02", "m2", 1, 1)], "2026-12-01", "2026-12-02");
    const { container } = render(<UsageChart data={data} caption="Tokens per day" />);
    const svg = container.querySelector("svg")!;
    expect(svg.getAttribute("role")).toBe("img");
    expect(svg.querySelector("title")!.textContent).toBe("Tokens per day");
    const bars = [...container.querySelectorAll("rect")].map((r) => [r.dataset.model, r.dataset.tokens]);
    expect(bars).toEqual([
      ["m1", "42"],
      ["m2", "2"],
    ]);
    expect(describeChart(data)).toBe("44 tokens from 2026-12-01 to 2026-12-02, by m1, m2; the most on 2026-12-02 (44).");
    expect(describeChart(shapeUsage([], "2026-12-01", "2026-12-02"))).toBe("No tokens used from 2026-12-01 to 2026-12-02.");
  });
});
