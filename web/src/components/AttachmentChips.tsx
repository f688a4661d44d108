// The files attached to the message being written, above the message box: each with its name, size and state
// (a progress bar while it uploads, "processing…" while the server reads it, ready, or why it cannot be used), a
// thumbnail once an image is ready, and a button that takes it off.
import { isImage, type Attachment } from "../files/attachmentsStore";
import { formatBytes } from "../files/format";
import { FileIcon, SmallCloseIcon } from "./icons";

interface Props {
  items: readonly Attachment[];
  /** Where a ready file's bytes are served (an image's thumbnail). */
  fileUrl: (fileId: string) => string;
  /** The chosen model, and whether it can see images (an image chip says so when it cannot). */
  modelName: string | null;
  modelCanSee: boolean;
  onRemove: (key: string) => void;
}

export function AttachmentChips({ items, fileUrl, modelName, modelCanSee, onRemove }: Props) {
  if (items.length === 0) return null;
  return (
    <ul className="attachment-chips" aria-label="Attached files">
      {items.map((item) => (
        <AttachmentChip
          key={item.key}
          item={item}
          fileUrl={fileUrl}
          blindModel={isImage(item) && !modelCanSee ? (modelName ?? "This model") : null}
          onRemove={onRemove}
        />
      ))}
    </ul>
  );
}

function AttachmentChip({
  item,
  fileUrl,
  blindModel,
  onRemove,
}: {
  item: Attachment;
  fileUrl: (fileId: string) => string;
  /** The model's name when the chip is an image it cannot see. */
  blindModel: string | null;
  onRemove: (key: string) => void;
}) {
  const thumbnail = item.status === "ready" && isImage(item) ? item.fileId : null;
  const detailId = `${item.key}-detail`;
  return (
    <li className="attachment-chip" data-status={item.status}>
      <div className="chip-main">
        {thumbnail !== null ? (
          <img className="chip-thumbnail" src={fileUrl(thumbnail)} alt="" />
        ) : (
          <span className="chip-icon" aria-hidden="true">
            <FileIcon />
          </span>
        )}
        <div className="chip-text">
          <span className="chip-name" title={item.name}>
            {item.name}
          </span>
          <span className="chip-meta" id={detailId}>
            {formatBytes(item.size)} · <StatusText item={item} />
          </span>
          {item.status === "uploading" && (
            <progress className="chip-progress" max={1} value={item.progress} aria-label={`Uploading ${item.name}`} />
          )}
        </div>
        <button
          type="button"
          className="chip-remove"
          onClick={() => onRemove(item.key)}
          aria-label={`Remove ${item.name}`}
          aria-describedby={detailId}
          title="Remove"
        >
          <SmallCloseIcon />
        </button>
      </div>
      {item.status === "error" && (
        <p className="chip-error" role="alert">
          {item.error}
        </p>
      )}
      {item.truncated && item.status === "ready" && (
        <p className="chip-hint">This file is long: only its beginning is read.</p>
      )}
      {blindModel !== null && item.status !== "error" && (
        <p className="chip-hint">{blindModel} cannot see images: pick a model that can, or remove this one.</p>
      )}
    </li>
  );
}

function StatusText({ item }: { item: Attachment }) {
  switch (item.status) {
    case "uploading":
      return <>uploading {Math.round(item.progress * 100)}%</>;
    case "processing":
      return <>processing…</>;
    case "ready":
      return <>ready</>;
    case "error":
      return <>not usable</>;
  }
}
