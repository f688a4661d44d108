// What a message carried and what an answer read: a user message's files (images inline, opening full size in a new
// tab; documents as chips that download the original), and an answer's sources, numbered as the model saw them,
// each opening to the passage it was given.
import type { AttachmentRef, CitationOut } from "../api/types";
import { isImage } from "../files/attachmentsStore";
import { formatBytes } from "../files/format";
import { FileIcon } from "./icons";

export function MessageAttachments({
  items,
  fileUrl,
}: {
  items: readonly AttachmentRef[];
  fileUrl: (fileId: string) => string;
}) {
  if (items.length === 0) return null;
  return (
    <ul className="message-attachments" aria-label="Attached files">
      {items.map((item, index) => {
        const url = fileUrl(item.file_id);
        return (
          <li key={`${item.file_id}-${index}`}>
            {isImage({ kind: item.kind, mediaType: item.media_type }) ? (
              <a className="attachment-image" href={url} target="_blank" rel="noopener noreferrer">
                <img src={url} alt={item.name} loading="lazy" />
                <span className="sr-only"> (opens full size in a new tab)</span>
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
