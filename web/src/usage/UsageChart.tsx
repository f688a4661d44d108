// Tokens per day, one stacked bar a day and one colour a model, drawn as plain SVG (no chart library: nothing
// loads from elsewhere). Colours come from the theme's custom properties; a table beside it has every figure.
import { useId } from "react";
import type { ChartData } from "./chartData";
import { shortTokens } from "./chartData";

const WIDTH = 720;
const HEIGHT = 240;
const PAD = { top: 12, right: 8, bottom: 28, left: 52 };
export const SERIES_COLOURS = 6;

export function UsageChart({ data, caption }: { data: ChartData; caption: string }) {
  const titleId = useId();
  const descId = useId();
  const plotWidth = WIDTH - PAD.left - PAD.right;
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const slot = data.days.length ? plotWidth / data.days.length : plotWidth;
  const barWidth = Math.max(1, slot * 0.7);
  const y = (value: number) => PAD.top + plotHeight - (value / data.max) * plotHeight;
  const labelEvery = Math.max(1, Math.ceil(data.days.length / 6));

  return (
    <figure className="usage-chart">
      <svg
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        role="img"
        aria-labelledby={titleId}
        aria-describedby={descId}
        preserveAspectRatio="xMidYMid meet"
      >
        <title id={titleId}>{caption}</title>
        <desc id={descId}>{describe(data)}</desc>
        {data.ticks.map((tick) => (
          <g key={tick} className="usage-chart-grid">
            <line x1={PAD.left} x2={WIDTH - PAD.right} y1={y(tick)} y2={y(tick)} />
            <text x={PAD.left - 6} y={y(tick)} textAnchor="end" dominantBaseline="middle">
              {shortTokens(tick)}
            </text>
          </g>
        ))}
        {data.days.map((day, i) => {
          let base = 0;
          const x = PAD.left + i * slot + (slot - barWidth) / 2;
          return (
            <g key={day} data-day={day}>
              {data.series.map((series, s) => {
                const value = series.values[i] ?? 0;
                if (value === 0) return null;
                const top = y(base + value);
                const height = y(base) - top;
                base += value;
                return (
                  <rect
                    key={series.model}
                    className={`usage-series-${s % SERIES_COLOURS}`}
                    data-model={series.model}
                    data-tokens={value}
                    x={x}
                    y={top}
                    width={barWidth}
                    height={Math.max(height, 0.5)}
                  >
                    <title>{`${day} · ${series.model}: ${value.toLocaleString("en-US")} tokens`}</title>
                  </rect>
                );
              })}
              {i % labelEvery === 0 && (
                <text className="usage-chart-day" x={x + barWidth / 2} y={HEIGHT - 8} textAnchor="middle">
                  {day.slice(5)}
                </text>
              )}
            </g>
          );
        })}
      </svg>
      {data.series.length > 0 && (
        <figcaption>
          <ul className="usage-legend">
            {data.series.map((series, s) => (
              <li key={series.model}>
                <span className={`usage-swatch usage-series-${s % SERIES_COLOURS}`} aria-hidden="true" />
                {series.model}
              </li>
            ))}
          </ul>
        </figcaption>
      )}
    </figure>
  );
}

/** What a screen reader hears instead of the bars (the table below has every figure). */
export function describe(data: ChartData): string {
  const first = data.days[0];
  const last = data.days[data.days.length - 1];
  const total = data.dayTotals.reduce((a, b) => a + b, 0);
  if (!first || !last) return "No days in the range.";
  if (total === 0) return `No tokens used from ${first} to ${last}.`;
  const busiest = data.dayTotals.indexOf(Math.max(...data.dayTotals));
  const models = data.series.map((s) => s.model).join(", ");
  return (
    `${total.toLocaleString("en-US")} tokens from ${first} to ${last}, by ${models}; ` +
    `the most on ${data.days[busiest]} (${(data.dayTotals[busiest] ?? 0).toLocaleString("en-US")}).`
  );
}
