// Shapes /api/usage rows (one per day and model) into what the chart draws: every day of the range in order
// (days without use included, as zero), one series per model stacked in each day's bar, and a y scale with
// round ticks.
import type { UsageDay } from "../api/types";

export interface Series {
  model: string;
  /** Tokens (prompt + completion) per day, aligned with ``ChartData.days``. */
  values: number[];
}

export interface ChartData {
  days: string[];
  series: Series[];
  /** Each day's tokens over every model. */
  dayTotals: number[];
  /** The top of the y scale (a round number at or above the largest day), and its ticks from 0. */
  max: number;
  ticks: number[];
}

const DAY_MS = 86_400_000;

/** Every UTC day from ``from`` to ``to`` (YYYY-MM-DD, both included); empty when ``from`` is after ``to``. */
export function daysBetween(from: string, to: string): string[] {
  const first = Date.parse(`${from}T00:00:00Z`);
  const last = Date.parse(`${to}T00:00:00Z`);
  if (Number.isNaN(first) || Number.isNaN(last)) return [];
  const days: string[] = [];
  for (let t = first; t <= last; t += DAY_MS) days.push(new Date(t).toISOString().slice(0, 10));
  return days;
}

/** The day ``count`` days before ``day`` (YYYY-MM-DD, UTC). */
export function shiftDay(day: string, count: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + count * DAY_MS).toISOString().slice(0, 10);
}

export function tokensOf(row: UsageDay): number {
  return row.prompt_tokens + row.completion_tokens;
}

export function shapeUsage(rows: readonly UsageDay[], from: string, to: string): ChartData {
  const days = daysBetween(from, to);
  const index = new Map(days.map((day, i) => [day, i]));
  const byModel = new Map<string, number[]>();
  for (const row of rows) {
    const at = index.get(row.day);
    if (at === undefined) continue; // outside the range asked for
    let values = byModel.get(row.model);
    if (!values) {
      values = days.map(() => 0);
      byModel.set(row.model, values);
    }
    values[at] = (values[at] ?? 0) + tokensOf(row);
  }
  // Biggest model first, so the bottom of every bar (and the first colour) is the model used most.
  const series = [...byModel.entries()]
    .map(([model, values]) => ({ model, values }))
    .sort((a, b) => sum(b.values) - sum(a.values) || a.model.localeCompare(b.model));
  const dayTotals = days.map((_, i) => series.reduce((total, s) => total + (s.values[i] ?? 0), 0));
  const { max, ticks } = scale(Math.max(0, ...dayTotals));
  return { days, series, dayTotals, max, ticks };
}

/** A y scale for values up to ``top``: 4 or 5 ticks at round steps (1, 2 or 5 times a power of ten). */
export function scale(top: number): { max: number; ticks: number[] } {
  if (top <= 0) return { max: 1, ticks: [0, 1] };
  const rough = top / 4;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = ([1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? 10 * power);
  const stepped = Math.max(1, step);
  const max = Math.ceil(top / stepped) * stepped;
  const ticks: number[] = [];
  for (let t = 0; t <= max; t += stepped) ticks.push(t);
  return { max, ticks };
}

/** 1234 -> "1,234"; 15300 -> "15.3k"; 2500000 -> "2.5M" (axis labels). */
export function shortTokens(value: number): string {
  if (value >= 1_000_000) return `${trim(value / 1_000_000)}M`;
  if (value >= 10_000) return `${trim(value / 1_000)}k`;
  return value.toLocaleString("en-US");
}

function trim(value: number): string {
  return value.toFixed(1).replace(/\.0$/, "");
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
