// What a message carried and what an answer read: a user message's files (images inline, opening full size over the
// page, or in a new tab with a middle click; documents as chips that download the original), and an answer's
// sources, numbered as the model saw them, each opening to the passage it was given.
import { useId, useState, type MouseEvent } from "react";
import type { AttachmentRef, CitationOut } from "../api/types";
import { isImage } from "../files/attachmentsStore";
import { formatBytes } from "../files/format";
import { Dialog } from "./Dialog";
import { CloseIcon, FileIcon } from "./icons";

export function MessageAttachments({
  items,
  fileUrl,
}: {
  items: readonly AttachmentRef[];
  fileUrl: (fileId: string) => string;
}) {
  const [shown, setShown] = useState<AttachmentRef | null>(null);
  if (items.length === 0) return null;
  // A plain click opens the image over the page; with a modifier key the browser does what it does with links.
  const open = (event: MouseEvent, item: AttachmentRef) => {
    if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    setShown(item);
  };
  return (
    <>
      <ul className="message-attachments" aria-label="Attached files">
        {items.map((item, index) => {
          const url = fileUrl(item.file_id);
          return (
            <li key={`${item.file_id}-${index}`}>
              {isImage({ kind: item.kind, mediaType: item.media_type }) ? (
                <a
                  className="attachment-image"
                  href={url}
                  target="_blank"
                  rel="noopener noreferrer"
                  aria-haspopup="dialog"
                  onClick={(event) => open(event, item)}
                >
                  <img src={url} alt={item.name} loading="lazy" />
                  <span className="sr-only"> (open full size)</span>
                </a>
              ) : (
                <a className="sent-file" href={url} download={item.name} title={`Download ${item.name}`}>
                  <span className="chip-icon" aria-hidden="true">
                    <FileIcon />
                  </span>
                  <span className="chip-text">
                    <span className="chip-name">{item.name}</span>
                    <span className="chip-meta">{formatBytes(item.size)}</span>
                  </span>
                </a>
              )}
            </li>
          );
        })}
      </ul>
      <Lightbox image={shown} fileUrl={fileUrl} onClose={() => setShown(null)} />
    </>
  );
}

/** An image at full size over the page (Esc, the close button or a click beside it closes it). */
function Lightbox({
  image,
  fileUrl,
  onClose,
}: {
  image: AttachmentRef | null;
  fileUrl: (fileId: string) => string;
  onClose: () => void;
}) {
  const titleId = useId();
  const url = image ? fileUrl(image.file_id) : "";
  return (
    <Dialog open={image !== null} onClose={onClose} className="lightbox" labelledBy={titleId}>
      <div className="lightbox-header">
        <h2 id={titleId}>{image?.name}</h2>
        <button type="button" className="icon-button" onClick={onClose} aria-label="Close" title="Close (Esc)">
          <CloseIcon />
        </button>
      </div>
      {image && <img className="lightbox-image" src={url} alt={image.name} />}
      <div className="lightbox-footer">
        <a className="secondary-button small" href={url} target="_blank" rel="noopener noreferrer">
          Open in new tab
        </a>
      </div>
    </Dialog>
  );
}

export function Citations({ items }: { items: readonly CitationOut[] }) {
  if (items.length === 0) return null;
  return (
    <section className="citations" aria-label="Sources">
      <p className="citations-title">Sources</p>
      <ol>
        {items.map((citation, index) => (
          <li key={`${citation.file_id}-${citation.passage_index}-${index}`}>
            <details>
              <summary>
                <span className="citation-number">{index + 1}</span>
                <span className="citation-name">{citation.file_name}</span>
                {citation.page !== null && citation.page !== undefined && (
                  <span className="citation-page">page {citation.page}</span>
                )}
              </summary>
              <blockquote className="citation-text">{citation.text}</blockquote>
            </details>
          </li>
        ))}
      </ol>
    </section>
  );
}
