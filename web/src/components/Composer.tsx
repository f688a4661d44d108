// The message box: Enter sends, Shift+Enter adds a line, it grows with its text, Esc or the Stop
// button ends an answer, and focus comes back to it after sending.
import { forwardRef, useImperativeHandle, useLayoutEffect, useRef, useState, type KeyboardEvent } from "react";
import { SendIcon, StopIcon } from "./icons";

interface Props {
  appName: string;
  generating: boolean;
  canSend: boolean;
  offlineReason: string | null;
  onSend: (text: string) => boolean;
  onStop: () => void;
}

export interface ComposerHandle {
  focus: () => void;
  setText: (text: string) => void;
}

const MAX_HEIGHT = 240;

export const Composer = forwardRef<ComposerHandle, Props>(function Composer(
  { appName, generating, canSend, offlineReason, onSend, onStop },
  handle,
) {
  const [text, setText] = useState("");
  const area = useRef<HTMLTextAreaElement>(null);

  useImperativeHandle(handle, () => ({
    focus: () => area.current?.focus(),
    setText: (value: string) => {
      setText(value);
      area.current?.focus();
    },
  }));

  useLayoutEffect(() => {
    const el = area.current;
    if (!el) return;
    el.style.height = "auto";
    el.style.height = `${Math.min(el.scrollHeight, MAX_HEIGHT)}px`;
    el.style.overflowY = el.scrollHeight > MAX_HEIGHT ? "auto" : "hidden";
  }, [text]);

  const ready = canSend && !generating && text.trim().length > 0;

  const send = () => {
    if (!ready) return;
    if (onSend(text)) setText("");
    area.current?.focus();
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      send();
    } else if (event.key === "Escape" && generating) {
      event.preventDefault();
      onStop();
    }
  };

  return (
    <form
      className="composer"
      onSubmit={(e) => {
        e.preventDefault();
        send();
      }}
    >
      <div className="composer-box">
        <label htmlFor="prompt" className="sr-only">
          Message
        </label>
        <textarea
          id="prompt"
          ref={area}
          rows={1}
          placeholder={`Message ${appName}`}
          value={text}
          onChange={(e) => setText(e.target.value)}
          onKeyDown={onKeyDown}
          aria-describedby="composer-hint"
        />
        {generating ? (
          <button type="button" className="send-button stop" onClick={onStop} aria-label="Stop generating" title="Stop (Esc)">
            <StopIcon />
          </button>
        ) : (
          <button type="submit" className="send-button" disabled={!ready} aria-label="Send message" title="Send (Enter)">
            <SendIcon />
          </button>
        )}
      </div>
      <p id="composer-hint" className="composer-hint">
        {offlineReason ?? "Enter to send, Shift+Enter for a new line. Answers can be wrong: check what matters."}
      </p>
    </form>
  );
});
