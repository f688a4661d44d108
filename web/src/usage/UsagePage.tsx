// The usage page: tokens per day and model for a range of UTC days (the last 30 by default) as a chart and a
// table, the totals, and the month's budget when there is one. Admins can look at everyone's or one user's.
import { useEffect, useId, useMemo, useState } from "react";
import type { ApiClient } from "../api/client";
import type { Budget, UsageReport } from "../api/types";
import "../styles/usage.css";
import { shapeUsage, shiftDay, tokensOf } from "./chartData";
import { UsageChart } from "./UsageChart";

type Whose = "me" | "everyone" | "user";

const DEFAULT_DAYS = 30;

function todayUtc(): string {
  return new Date().toISOString().slice(0, 10);
}

const number = (value: number) => value.toLocaleString("en-US");

export function UsagePage({ api }: { api: ApiClient }) {
  const [to, setTo] = useState(todayUtc);
  const [from, setFrom] = useState(() => shiftDay(todayUtc(), -(DEFAULT_DAYS - 1)));
  const [whose, setWhose] = useState<Whose>("me");
  const [username, setUsername] = useState("");
  const [asked, setAsked] = useState(""); // the user name last asked for (on submit, not on every key)
  const [report, setReport] = useState<UsageReport | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const ids = { from: useId(), to: useId(), whose: useId(), user: useId() };

  useEffect(() => {
    if (!from || !to || (whose === "user" && !asked)) return;
    const abort = new AbortController();
    setLoading(true);
    api
      .usage(
        { from, to, user: whose === "user" ? asked : null, all: whose === "everyone" },
        abort.signal,
      )
      .then((fresh) => {
        setReport(fresh);
        setError(null);
      })
      .catch((failed: unknown) => {
        if (abort.signal.aborted) return;
        setError(failed instanceof Error ? failed.message : String(failed));
      })
      .finally(() => {
        if (!abort.signal.aborted) setLoading(false);
      });
    return () => abort.abort();
  }, [api, from, to, whose, asked]);

  const chart = useMemo(() => (report ? shapeUsage(report.days, report.from, report.to) : null), [report]);
  const whoseLabel = report ? (report.user === null ? "everyone" : report.user) : "";

  return (
    <div className="usage-page">
      <h2 className="usage-heading">Usage</h2>
      <form className="usage-controls" onSubmit={(e) => {
        e.preventDefault();
        setAsked(username.trim());
      }}>
        <label htmlFor={ids.from}>From</label>
        <input id={ids.from} type="date" value={from} max={to} onChange={(e) => setFrom(e.target.value)} />
        <label htmlFor={ids.to}>To</label>
        <input id={ids.to} type="date" value={to} min={from} onChange={(e) => setTo(e.target.value)} />
        {report?.viewer_is_admin && (
          <>
            <label htmlFor={ids.whose}>Whose</label>
            <select id={ids.whose} value={whose} onChange={(e) => setWhose(e.target.value as Whose)}>
              <option value="me">Mine</option>
              <option value="everyone">Everyone</option>
              <option value="user">One user…</option>
            </select>
            {whose === "user" && (
              <>
                <label htmlFor={ids.user} className="sr-only">
                  User name
                </label>
                <input
                  id={ids.user}
                  value={username}
                  placeholder="user name"
                  onChange={(e) => setUsername(e.target.value)}
                />
                <button type="submit" className="secondary-button">
                  Show
                </button>
              </>
            )}
          </>
        )}
      </form>
      {error && (
        <p className="error-text" role="alert">
          {error}
        </p>
      )}
      {report && chart && (
        <div aria-busy={loading}>
          <p className="usage-totals" role="status">
            {`${number(report.totals.prompt_tokens + report.totals.completion_tokens)} tokens`}
            {` (${number(report.totals.prompt_tokens)} prompt, ${number(report.totals.completion_tokens)} completion)`}
            {` in ${number(report.totals.requests)} ${report.totals.requests === 1 ? "answer" : "answers"}`}
          </p>
          {report.budget && <BudgetMeter budget={report.budget} />}
          <UsageChart data={chart} caption={`Tokens per day of ${whoseLabel}, ${report.from} to ${report.to} (UTC)`} />
          <UsageTable report={report} />
        </div>
      )}
    </div>
  );
}

function BudgetMeter({ budget }: { budget: Budget }) {
  const limit = budget.monthly_tokens ?? 0;
  const resets = new Date(budget.resets_at);
  const when = resets.toLocaleDateString("en-GB", { day: "numeric", month: "long", year: "numeric", timeZone: "UTC" });
  const id = useId();
  return (
    <div className="usage-budget">
      <label htmlFor={id}>
        {`Monthly budget: ${number(budget.used)} of ${number(limit)} tokens used; resets on ${when} (UTC).`}
      </label>
      <meter id={id} min={0} max={limit} low={limit * 0.75} high={limit * 0.9} optimum={0} value={Math.min(budget.used, limit)} />
    </div>
  );
}

function UsageTable({ report }: { report: UsageReport }) {
  if (report.days.length === 0) return <p className="usage-empty">No answers in this range.</p>;
  return (
    <table className="usage-table">
      <caption className="sr-only">Tokens per day and model</caption>
      <thead>
        <tr>
          <th scope="col">Day (UTC)</th>
          <th scope="col">Model</th>
          <th scope="col">Prompt</th>
          <th scope="col">Completion</th>
          <th scope="col">Total</th>
          <th scope="col">Answers</th>
        </tr>
      </thead>
      <tbody>
        {[...report.days].reverse().map((row) => (
          <tr key={`${row.day} ${row.model}`}>
            <td>{row.day}</td>
            <td>{row.model}</td>
            <td>{number(row.prompt_tokens)}</td>
            <td>{number(row.completion_tokens)}</td>
            <td>{number(tokensOf(row))}</td>
            <td>{number(row.requests)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
