// One message. User messages are shown as typed; answers as markdown, block by block. A message with other
// versions (edits, regenerated answers) carries the switcher between them.
import { memo, useState, type KeyboardEvent } from "react";
import { versionsOf, type ChatMessage } from "../chat/chatStore";
import type { StreamText } from "../chat/streamText";
import { MarkdownBlock } from "../markdown/Markdown";
import { BranchSwitcher, type Direction } from "./BranchSwitcher";
import { CopyButton } from "./CopyButton";
import { AlertIcon, EditIcon, LogoIcon, RegenerateIcon } from "./icons";
import { Citations, MessageAttachments } from "./MessageFiles";

interface Props {
  message: ChatMessage;
  /** Its place in the branch shown (its depth in the tree: every version of it stands at the same place). */
  turn: number;
  /** Changes every frame while this message streams, so it re-renders; 0 otherwise. */
  tick: number;
  streaming: boolean;
  isLastAnswer: boolean;
  /** An answer is being written or a branch switched: edit, regenerate and switch wait. */
  busy: boolean;
  appName: string;
  /** Where an attached file's bytes are served. */
  fileUrl: (fileId: string) => string;
  onEdit: (key: string, text: string) => void;
  onRegenerate: () => void;
  onSwitch: (message: ChatMessage, turn: number, to: Direction) => void;
}

export const MessageView = memo(function MessageView(props: Props) {
  return props.message.role === "user" ? <UserMessage {...props} /> : <Answer {...props} />;
});

/** The switcher, when the message has other versions. */
function MessageVersions({ message, turn, busy, onSwitch }: Props) {
  const versions = versionsOf(message);
  if (versions.total < 2) return null;
  return <BranchSwitcher versions={versions} disabled={busy} onSwitch={(to) => onSwitch(message, turn, to)} />;
}

function UserMessage(props: Props) {
  const { message, turn, busy, fileUrl, onEdit } = props;
  const [editing, setEditing] = useState(false);
  const text = message.text.text;
  if (editing) {
    return (
      <EditBox
        initial={text}
        onCancel={() => setEditing(false)}
        onSave={(value) => {
          setEditing(false);
          onEdit(message.key, value);
        }}
      />
    );
  }
  return (
    <article className="message user" aria-label="You said" data-turn={turn} data-message-id={message.id ?? undefined}>
      <MessageAttachments items={message.attachments} fileUrl={fileUrl} />
      <div className="bubble">{text}</div>
      <div className="message-footer">
        <div className="message-actions">
          <CopyButton text={text} label="Copy message" />
          <button
            type="button"
            className="icon-button small"
            onClick={() => setEditing(true)}
            disabled={busy}
            aria-label="Edit message"
            title="Edit"
          >
            <EditIcon />
          </button>
        </div>
        <MessageVersions {...props} />
      </div>
    </article>
  );
}

function EditBox({ initial, onSave, onCancel }: { initial: string; onSave: (v: string) => void; onCancel: () => void }) {
  const [value, setValue] = useState(initial);
  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      if (value.trim()) onSave(value);
    } else if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      onCancel();
    }
  };
  return (
    <div className="message user editing">
      <label className="sr-only" htmlFor="edit-message">
        Edit your message
      </label>
      <textarea
        id="edit-message"
        value={value}
        rows={Math.min(10, Math.max(2, value.split("\n").length))}
        autoFocus
        onChange={(e) => setValue(e.target.value)}
        onKeyDown={onKeyDown}
      />
      <div className="edit-actions">
        <button type="button" className="secondary-button" onClick={onCancel}>
          Cancel
        </button>
        <button type="button" className="primary-button" onClick={() => onSave(value)} disabled={!value.trim()}>
          Send
        </button>
      </div>
    </div>
  );
}

function Answer(props: Props) {
  const { message, turn, streaming, isLastAnswer, busy, appName, onRegenerate } = props;
  const empty = message.text.length === 0;
  const failed = message.status === "error" || message.status === "interrupted";
  const actions = !streaming && !empty;
  const versions = versionsOf(message).total > 1;
  return (
    <article
      className={`message assistant${streaming ? " streaming" : ""}`}
      aria-label={`${appName} said`}
      aria-busy={streaming}
      data-turn={turn}
      data-message-id={message.id ?? undefined}
    >
      <div className="assistant-avatar" aria-hidden="true">
        <LogoIcon size={26} />
      </div>
      <div className="assistant-body">
        {streaming && empty ? (
          <div className="thinking" aria-label="Thinking">
            <span />
            <span />
            <span />
          </div>
        ) : (
          <AnswerText text={message.text} streaming={streaming} />
        )}
        <Citations items={message.citations} />
        {message.status === "stopped" && <p className="answer-note">Stopped.</p>}
        {failed && (
          <div className="answer-error" role="alert">
            <AlertIcon />
            <span>{message.error ?? "The answer failed."}</span>
            {isLastAnswer && !busy && (
              <button type="button" className="secondary-button small" onClick={onRegenerate}>
                Retry
              </button>
            )}
          </div>
        )}
        {(actions || versions) && (
          <div className="message-footer">
            <MessageVersions {...props} />
            {actions && (
              <div className="message-actions">
                <CopyButton text={message.text.text} label="Copy answer" />
                {isLastAnswer && (
                  <button
                    type="button"
                    className="icon-button small"
                    onClick={onRegenerate}
                    disabled={busy}
                    aria-label="Regenerate answer"
                    title="Regenerate"
                  >
                    <RegenerateIcon />
                  </button>
                )}
              </div>
            )}
          </div>
        )}
      </div>
    </article>
  );
}

/** Finished blocks are memoised by their text; only the open block is parsed again as text arrives. */
function AnswerText({ text, streaming }: { text: StreamText; streaming: boolean }) {
  return (
    <div className="markdown">
      {text.blocks.map((block, index) => (
        <MarkdownBlock key={index} text={block} />
      ))}
      <MarkdownBlock text={text.open} />
      {streaming && <span className="cursor" aria-hidden="true" />}
    </div>
  );
}
