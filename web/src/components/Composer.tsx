// The message box: Enter sends, Shift+Enter adds a line, it grows with its text, Esc or the Stop
// button ends an answer, and focus comes back to it after sending. Files come in by the attach button, by
// pasting, or by dropping them on the chat (ChatApp); they upload at once and the message waits for them.
import {
  forwardRef,
  useImperativeHandle,
  useLayoutEffect,
  useRef,
  useState,
  type ClipboardEvent,
  type KeyboardEvent,
} from "react";
import type { AttachmentRef } from "../api/types";
import type { AttachmentsStore } from "../files/attachmentsStore";
import { useStore } from "../lib/store";
import { AttachmentChips } from "./AttachmentChips";
import { PaperclipIcon, SendIcon, StopIcon } from "./icons";

interface Props {
  appName: string;
  generating: boolean;
  canSend: boolean;
  offlineReason: string | null;
  attachments: AttachmentsStore;
  fileUrl: (fileId: string) => string;
  /** The chosen model's name, and whether it can see images. */
  modelName: string | null;
  modelCanSee: boolean;
  /** Attach these files (the button, a paste). */
  onAttach: (files: File[]) => void;
  onSend: (text: string, attachments: readonly AttachmentRef[]) => boolean;
  onStop: () => void;
}

export interface ComposerHandle {
  focus: () => void;
  setText: (text: string) => void;
}

const MAX_HEIGHT = 240;

export const Composer = forwardRef<ComposerHandle, Props>(function Composer(
  { appName, generating, canSend, offlineReason, attachments, fileUrl, modelName, modelCanSee, onAttach, onSend, onStop },
  handle,
) {
  const [text, setText] = useState("");
  const area = useRef<HTMLTextAreaElement>(null);
  const picker = useRef<HTMLInputElement>(null);
  const files = useStore(attachments, (s) => s.items);

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

  const filesReady = files.every((f) => f.status === "ready");
  // Files alone are a message too ("what is in this picture?" goes without saying).
  const ready = canSend && !generating && (text.trim().length > 0 || files.length > 0) && filesReady;

  const send = () => {
    if (!ready) return;
    const taken = attachments.take();
    if (taken === null) return;
    if (onSend(text, taken)) setText("");
    else attachments.restore(taken);
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

  // Files on the clipboard (a screenshot, an image copied in the browser, files copied in a file manager) are
  // attached; text copied from an office app also carries a picture of itself, and pastes as the text.
  const onPaste = (event: ClipboardEvent<HTMLTextAreaElement>) => {
    const pasted = [...event.clipboardData.files];
    if (pasted.length === 0 || event.clipboardData.getData("text/plain").trim() !== "") return;
    event.preventDefault();
    onAttach(pasted);
  };

  const pending = files.some((f) => f.status === "uploading" || f.status === "processing");
  const failed = files.some((f) => f.status === "error");
  const hint =
    offlineReason ??
    (failed
      ? "Remove the files that cannot be used to send your message."
      : pending
        ? "Your message can be sent once its files are ready."
        : "Enter to send, Shift+Enter for a new line. Answers can be wrong: check what matters.");

  return (
    <form
      className="composer"
      onSubmit={(e) => {
        e.preventDefault();
        send();
      }}
    >
      <div className="composer-box">
        <AttachmentChips
          items={files}
          fileUrl={fileUrl}
          modelName={modelName}
          modelCanSee={modelCanSee}
          onRemove={(key) => {
            attachments.remove(key);
            area.current?.focus();
          }}
        />
        <div className="composer-row">
          <button
            type="button"
            className="icon-button attach-button"
            onClick={() => picker.current?.click()}
            aria-label="Attach files"
            title="Attach files (or paste, or drop them here)"
          >
            <PaperclipIcon />
          </button>
          <input
            ref={picker}
            type="file"
            multiple
            hidden
            aria-label="Files to attach"
            onChange={(e) => {
              const chosen = [...(e.target.files ?? [])];
              e.target.value = ""; // the same file may be chosen again
              if (chosen.length > 0) onAttach(chosen);
              area.current?.focus();
            }}
          />
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
            onPaste={onPaste}
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
      </div>
      <p id="composer-hint" className="composer-hint">
        {hint}
      </p>
    </form>
  );
});
