// The files attached to the message being written. Each one is uploaded in two steps (a record and where its bytes
// go, then the bytes, posted with progress), then watched until the server has read it: ready to send, or an
// error to show. A file taken off before it is sent is deleted from the server; a file sent stays there, the
// message refers to it.
import { ApiError, uploadForm, type ApiClient } from "../api/client";
import type { AttachmentRef, FileKind, FileOut } from "../api/types";
import { Store } from "../lib/store";
import { postForm as xhrPostForm, type PostForm } from "./upload";

/** "uploading": its bytes are being sent; "processing": they are in, the server is reading them. */
export type AttachmentStatus = "uploading" | "processing" | "ready" | "error";

export interface Attachment {
  /** Stable React key, also the handle to remove it. */
  key: string;
  name: string;
  size: number;
  /** The server's sniffed type once known, else what the browser says the file is. */
  mediaType: string;
  kind: FileKind | null;
  status: AttachmentStatus;
  /** Fraction of the bytes sent, 0 to 1. */
  progress: number;
  fileId: string | null;
  error: string | null;
  /** A document longer than the server reads: only its beginning is used. */
  truncated: boolean;
}

export interface AttachmentsState {
  items: readonly Attachment[];
}

export interface AttachmentsDeps {
  api: Pick<ApiClient, "createFileUpload" | "getFile" | "deleteFile" | "uploadTarget">;
  postForm?: PostForm;
  /** Milliseconds between looks at a file being processed: each entry once, the last one from then on. */
  pollDelays?: readonly number[];
  /** Give up watching a file after this long (it stays on the server; the chip says so). */
  pollTimeoutMs?: number;
  maxAttachments?: number;
}

/** A prompt carries at most this many files (the server's limit too). */
export const MAX_ATTACHMENTS = 10;
const POLL_DELAYS = [250, 500, 1000, 1000, 2000];
const POLL_TIMEOUT_MS = 5 * 60 * 1000;

/** An image, going by what the server found or, before it knows, by what the browser says. */
export function isImage(item: { kind: string | null; mediaType: string }): boolean {
  return item.kind ? item.kind === "image" : item.mediaType.startsWith("image/");
}

export class AttachmentsStore extends Store<AttachmentsState> {
  private readonly aborts = new Map<string, AbortController>();
  private next = 1;

  constructor(private readonly deps: AttachmentsDeps) {
    super({ items: [] });
  }

  /** Every file is ready: the message may be sent (true with none). */
  get allReady(): boolean {
    return this.state.items.every((item) => item.status === "ready");
  }

  /** Start uploading ``files``; returns how many were refused for going over the limit per message. */
  add(files: Iterable<File>): number {
    const room = (this.deps.maxAttachments ?? MAX_ATTACHMENTS) - this.state.items.length;
    const list = [...files];
    const taken = list.slice(0, Math.max(0, room));
    const added = taken.map((file) => ({ file, item: this.newItem(file) }));
    if (added.length > 0) this.setState({ items: [...this.state.items, ...added.map((a) => a.item)] });
    for (const { file, item } of added) void this.upload(item.key, file);
    return list.length - taken.length;
  }

  /** Take a file off the message: its upload stops and the server forgets it. */
  remove(key: string): void {
    const item = this.state.items.find((i) => i.key === key);
    if (!item) return;
    this.aborts.get(key)?.abort();
    this.aborts.delete(key);
    this.setState({ items: this.state.items.filter((i) => i.key !== key) });
    if (item.fileId !== null) this.forget(item.fileId);
  }

  /** The files to send with the message, and the composer emptied of them (they stay on the server). Null while
   * one is not ready. */
  take(): AttachmentRef[] | null {
    if (!this.allReady) return null;
    const refs = this.state.items.map(refOf);
    this.setState({ items: [] });
    return refs;
  }

  /** Put back files taken for a message the server refused (they are still on the server, ready). */
  restore(refs: readonly AttachmentRef[]): void {
    const known = new Set(this.state.items.map((i) => i.fileId));
    const back = refs
      .filter((ref) => !known.has(ref.file_id))
      .map(
        (ref): Attachment => ({
          key: `attachment-${this.next++}`,
          name: ref.name,
          size: ref.size,
          mediaType: ref.media_type,
          kind: ref.kind === "image" || ref.kind === "document" ? ref.kind : null,
          status: "ready",
          progress: 1,
          fileId: ref.file_id,
          error: null,
          truncated: false,
        }),
      );
    if (back.length > 0) this.setState({ items: [...back, ...this.state.items] });
  }

  /** Stop every upload and watch (the page is going away); nothing is deleted. */
  dispose(): void {
    for (const abort of this.aborts.values()) abort.abort();
    this.aborts.clear();
  }

  private newItem(file: File): Attachment {
    return {
      key: `attachment-${this.next++}`,
      name: file.name || "pasted file",
      size: file.size,
      mediaType: file.type,
      kind: null,
      status: "uploading",
      progress: 0,
      fileId: null,
      error: null,
      truncated: false,
    };
  }

  private async upload(key: string, file: File): Promise<void> {
    const abort = new AbortController();
    this.aborts.set(key, abort);
    const { api } = this.deps;
    try {
      const created = await api.createFileUpload(file.name || "pasted file", file.size);
      if (abort.signal.aborted) {
        this.forget(created.file.id); // taken off while the record was being made
        return;
      }
      this.update(key, { fileId: created.file.id });
      const { url, ours } = api.uploadTarget(created.upload.url);
      await (this.deps.postForm ?? xhrPostForm)({
        url,
        ours,
        form: uploadForm(created.upload.fields, file),
        onProgress: (progress) => this.update(key, { progress }),
        signal: abort.signal,
      });
      this.update(key, { status: "processing", progress: 1 });
      await this.watch(key, created.file.id, abort.signal);
    } catch (error) {
      if (abort.signal.aborted) return;
      this.update(key, { status: "error", error: messageOf(error) });
    } finally {
      if (this.aborts.get(key) === abort) this.aborts.delete(key);
    }
  }

  /** Look at the file until the server has read it (or failed to). */
  private async watch(key: string, fileId: string, signal: AbortSignal): Promise<void> {
    const delays = this.deps.pollDelays ?? POLL_DELAYS;
    const deadline = Date.now() + (this.deps.pollTimeoutMs ?? POLL_TIMEOUT_MS);
    for (let attempt = 0; ; attempt++) {
      await sleep(delays[Math.min(attempt, delays.length - 1)] ?? 1000, signal);
      const file = await this.deps.api.getFile(fileId, signal);
      if (signal.aborted) return;
      if (file.status === "ready" || file.status === "error") {
        this.update(key, fromServer(file));
        return;
      }
      if (Date.now() > deadline) {
        this.update(key, { status: "error", error: "The server is taking too long to read this file. Try again later." });
        return;
      }
    }
  }

  private update(key: string, patch: Partial<Attachment>): void {
    if (!this.state.items.some((i) => i.key === key)) return;
    this.setState({ items: this.state.items.map((i) => (i.key === key ? { ...i, ...patch } : i)) });
  }

  private forget(fileId: string): void {
    this.deps.api.deleteFile(fileId).catch(() => undefined); // best effort: it only holds the user's quota
  }
}

function fromServer(file: FileOut): Partial<Attachment> {
  const patch: Partial<Attachment> = {
    status: file.status === "ready" ? "ready" : "error",
    kind: file.kind,
    error: file.status === "error" ? (file.error ?? "The file could not be read.") : null,
    truncated: file.text_truncated === true,
  };
  if (file.media_type) patch.mediaType = file.media_type;
  return patch;
}

function refOf(item: Attachment): AttachmentRef {
  // Only ready files are taken: the server has named them and knows their kind.
  return { file_id: item.fileId ?? "", name: item.name, kind: item.kind ?? "", media_type: item.mediaType, size: item.size };
}

function messageOf(error: unknown): string {
  if (error instanceof ApiError) {
    return error.status === 404 ? "The file is gone from the server. Remove it and attach it again." : error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", stop);
      resolve();
    }, ms);
    const stop = () => {
      clearTimeout(timer);
      reject(new DOMException("Stopped.", "AbortError"));
    };
    signal.addEventListener("abort", stop, { once: true });
  });
}
