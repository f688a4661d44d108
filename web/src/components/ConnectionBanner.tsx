import { useEffect, useState } from "react";
import type { SocketState } from "../ws/socket";

/** Shown while the chat connection is down: when it retries next, and a way to retry now. */
export function ConnectionBanner({ state, onRetry }: { state: SocketState; onRetry: () => void }) {
  const [now, setNow] = useState(() => Date.now());
  const down = state.status === "reconnecting" || (state.status === "connecting" && state.everOpened);
  useEffect(() => {
    if (!down) return;
    const timer = setInterval(() => setNow(Date.now()), 500);
    return () => clearInterval(timer);
  }, [down]);
  if (!down) return null;
  const seconds = state.retryAt === null ? 0 : Math.max(0, Math.ceil((state.retryAt - now) / 1000));
  return (
    <div className="connection-banner" role="alert">
      <span>
        {state.everOpened ? "Connection lost." : "Cannot connect to the server."}{" "}
        {seconds > 0 ? `Reconnecting in ${seconds} s…` : "Reconnecting…"}
      </span>
      <button type="button" className="link-button" onClick={onRetry}>
        Retry now
      </button>
    </div>
  );
}
