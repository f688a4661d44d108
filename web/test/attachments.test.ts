import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiClient, ApiError } from "../src/api/client";
import type { FileOut, FileUpload } from "../src/api/types";
import { AttachmentsStore } from "../src/files/attachmentsStore";
import { postForm, type FormPost } from "../src/files/upload";

function fileOut(id: string, extra: Partial<FileOut> = {}): FileOut {
  return {
    id,
    name: "notes.md",
    size: 12,
    status: "uploading",
    media_type: "",
    kind: null,
    error: null,
    text_chars: 0,
    passages: 0,
    width: null,
    height: null,
    created_at: 0,
    ...extra,
  };
}

/** A post the test finishes by hand: ``progress`` reports, ``finish`` answers, ``fail`` refuses. */
interface PendingPost {
  post: FormPost;
  finish: () => void;
  fail: (error: unknown) => void;
}

function setup(options: { statuses?: FileOut["status"][]; final?: Partial<FileOut>; createError?: ApiError } = {}) {
  const posts: PendingPost[] = [];
  const statuses = [...(options.statuses ?? ["processing", "ready"])];
  let created = 0;
  const createFileUpload = vi.fn(async (name: string, size: number): Promise<FileUpload> => {
    if (options.createError) throw options.createError;
    created += 1;
    const id = `f${created}`;
    return { file: fileOut(id, { name, size }), upload: { url: `/api/files/${id}/content`, fields: {}, max_bytes: 1000 } };
  });
  const getFile = vi.fn(async (id: string) => {
    const status = statuses.shift() ?? "ready";
    return fileOut(id, status === "ready" || status === "error" ? { status, ...options.final } : { status });
  });
  const deleteFile = vi.fn(async () => undefined);
  const api = new ApiClient({ baseUrl: "http://h:1" });
  const store = new AttachmentsStore({
    api: { createFileUpload, getFile, deleteFile, uploadTarget: (url) => api.uploadTarget(url) },
    postForm: (post) =>
      new Promise<void>((resolve, reject) => {
        post.signal.addEventListener("abort", () => reject(new DOMException("x", "AbortError")));
        posts.push({ post, finish: resolve, fail: reject });
      }),
    pollDelays: [100],
    maxAttachments: 3,
  });
  return { store, posts, createFileUpload, getFile, deleteFile };
}

const file = (name: string, type = "text/markdown", body = "# Notes\nhello") => new File([body], name, { type });
const states = (store: AttachmentsStore) => store.getState().items.map((i) => i.status);

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe("AttachmentsStore", () => {
  it("uploads in two steps with progress, then watches the file until it is ready", async () => {
    const { store, posts, createFileUpload, getFile } = setup({
      statuses: ["uploading", "processing", "ready"],
      final: { kind: "image", media_type: "image/png", width: 2, height: 2 },
    });
    store.add([file("cat.png", "image/png")]);
    expect(states(store)).toEqual(["uploading"]);
    expect(store.allReady).toBe(false);
    await vi.advanceTimersByTimeAsync(0);
    expect(createFileUpload).toHaveBeenCalledWith("cat.png", 13);

    const { post, finish } = posts[0]!;
    expect(post.url).toBe("http://h:1/api/files/f1/content");
    expect(post.ours).toBe(true);
    expect((post.form.get("file") as File).name).toBe("cat.png");
    post.onProgress(0.4);
    expect(store.getState().items[0]).toMatchObject({ status: "uploading", progress: 0.4, fileId: "f1" });
    expect(store.take()).toBeNull(); // not ready: nothing may be sent

    finish();
    await vi.advanceTimersByTimeAsync(0);
    expect(states(store)).toEqual(["processing"]);
    // On storage the file stays "uploading" until its bucket event: still processing to the user.
    await vi.advanceTimersByTimeAsync(100);
    await vi.advanceTimersByTimeAsync(100);
    expect(states(store)).toEqual(["processing"]);
    await vi.advanceTimersByTimeAsync(100);
    expect(getFile).toHaveBeenCalledTimes(3);
    expect(store.getState().items[0]).toMatchObject({
      status: "ready",
      kind: "image",
      mediaType: "image/png",
      truncated: false,
    });
    expect(store.allReady).toBe(true);

    await vi.advanceTimersByTimeAsync(1000);
    expect(getFile).toHaveBeenCalledTimes(3); // watching stops once ready

    expect(store.take()).toEqual([{ file_id: "f1", name: "cat.png", kind: "image", media_type: "image/png", size: 13 }]);
    expect(store.getState().items).toEqual([]);
  });

  it("posts the storage target's fields before the file, without the session", async () => {
    const posts: FormPost[] = [];
    const api = new ApiClient({ baseUrl: "http://h:1" });
    const storeS3 = new AttachmentsStore({
      api: {
        createFileUpload: async () => ({
          file: fileOut("f9"),
          upload: { url: "https://bucket.s3.amazonaws.com/", fields: { key: "u/f9/original", policy: "p" }, max_bytes: 9 },
        }),
        getFile: async (id) => fileOut(id, { status: "ready" }),
        deleteFile: async () => undefined,
        uploadTarget: (url) => api.uploadTarget(url),
      },
      postForm: async (post) => {
        posts.push(post);
      },
    });
    storeS3.add([file("a.txt", "text/plain")]);
    await vi.advanceTimersByTimeAsync(0);
    const post = posts[0]!;
    expect(post).toMatchObject({ url: "https://bucket.s3.amazonaws.com/", ours: false });
    expect([...post.form.keys()]).toEqual(["key", "policy", "file"]);
  });

  it("shows why a file cannot be used: refused at creation, failed to read, or failed to upload", async () => {
    const tooBig = setup({ createError: new ApiError(413, "too_large", "The file is larger than 25 MB.") });
    tooBig.store.add([file("big.pdf")]);
    await vi.advanceTimersByTimeAsync(0);
    expect(tooBig.store.getState().items[0]).toMatchObject({ status: "error", error: "The file is larger than 25 MB." });

    const unreadable = setup({ statuses: ["error"], final: { error: "This PDF is encrypted." } });
    unreadable.store.add([file("secret.pdf")]);
    await vi.advanceTimersByTimeAsync(0);
    unreadable.posts[0]!.finish();
    await vi.advanceTimersByTimeAsync(100);
    expect(unreadable.store.getState().items[0]).toMatchObject({ status: "error", error: "This PDF is encrypted." });
    expect(unreadable.store.allReady).toBe(false);
    expect(unreadable.store.take()).toBeNull();

    const lost = setup();
    lost.store.add([file("a.md")]);
    await vi.advanceTimersByTimeAsync(0);
    lost.posts[0]!.fail(new ApiError(0, "network", "Cannot reach the server."));
    await vi.advanceTimersByTimeAsync(0);
    expect(lost.store.getState().items[0]).toMatchObject({ status: "error", error: "Cannot reach the server." });
  });

  it("gives up watching a file that takes too long", async () => {
    const slow = new AttachmentsStore({
      api: {
        createFileUpload: async () => ({ file: fileOut("f1"), upload: { url: "/x", fields: {}, max_bytes: 1 } }),
        getFile: async (id) => fileOut(id, { status: "processing" }),
        deleteFile: async () => undefined,
        uploadTarget: (url) => ({ url, ours: true }),
      },
      postForm: async () => undefined,
      pollDelays: [1000],
      pollTimeoutMs: 5000,
    });
    slow.add([file("huge.pdf")]);
    await vi.advanceTimersByTimeAsync(4000);
    expect(states(slow)).toEqual(["processing"]);
    await vi.advanceTimersByTimeAsync(3000);
    expect(slow.getState().items[0]).toMatchObject({ status: "error", error: expect.stringMatching(/too long/) });
  });

  it("takes a file off: its upload stops and the server forgets it; a file sent is kept", async () => {
    const { store, posts, deleteFile } = setup();
    store.add([file("a.md"), file("b.md")]);
    await vi.advanceTimersByTimeAsync(0);
    const [first, second] = store.getState().items;
    store.remove(first!.key);
    expect(posts[0]!.post.signal.aborted).toBe(true);
    expect(deleteFile).toHaveBeenCalledWith("f1");
    expect(store.getState().items.map((i) => i.name)).toEqual(["b.md"]);

    posts[1]!.finish();
    await vi.advanceTimersByTimeAsync(200);
    expect(states(store)).toEqual(["ready"]);
    const taken = store.take();
    expect(taken?.map((t) => t.file_id)).toEqual(["f2"]);
    expect(deleteFile).toHaveBeenCalledTimes(1);
    expect(second!.key).toBeTruthy();

    // Given back (the server refused the prompt): ready again, and removing it now deletes it.
    store.restore(taken!);
    expect(store.getState().items[0]).toMatchObject({ status: "ready", fileId: "f2", name: "b.md" });
    store.remove(store.getState().items[0]!.key);
    expect(deleteFile).toHaveBeenLastCalledWith("f2");
  });

  it("says when only the beginning of a long document is read", async () => {
    const { store, posts } = setup({ statuses: ["ready"], final: { kind: "document", text_truncated: true } });
    store.add([file("book.txt", "text/plain")]);
    await vi.advanceTimersByTimeAsync(0);
    posts[0]!.finish();
    await vi.advanceTimersByTimeAsync(100);
    expect(store.getState().items[0]).toMatchObject({ status: "ready", truncated: true });
  });

  it("deletes a file taken off before the server had named it", async () => {
    const { store, createFileUpload, deleteFile } = setup();
    store.add([file("a.md")]);
    store.remove(store.getState().items[0]!.key); // the create request is still out
    await vi.advanceTimersByTimeAsync(0);
    expect(createFileUpload).toHaveBeenCalledOnce();
    expect(deleteFile).toHaveBeenCalledWith("f1");
    expect(store.getState().items).toEqual([]);
  });

  it("holds at most the files a message may carry", () => {
    const { store } = setup();
    expect(store.add([file("1"), file("2")])).toBe(0);
    expect(store.add([file("3"), file("4"), file("5")])).toBe(2);
    expect(store.getState().items.map((i) => i.name)).toEqual(["1", "2", "3"]);
  });
});

/** Enough of XMLHttpRequest for postForm: records what was set and sent; the test answers. */
class FakeXhr {
  method = "";
  url = "";
  headers: Record<string, string> = {};
  withCredentials = true;
  body: unknown = null;
  status = 0;
  statusText = "";
  responseText = "";
  aborted = false;
  upload: { onprogress: ((e: { lengthComputable: boolean; loaded: number; total: number }) => void) | null } = {
    onprogress: null,
  };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onabort: (() => void) | null = null;
  open(method: string, url: string) {
    this.method = method;
    this.url = url;
  }
  setRequestHeader(name: string, value: string) {
    this.headers[name] = value;
  }
  send(body: unknown) {
    this.body = body;
  }
  abort() {
    this.aborted = true;
    this.onabort?.();
  }
  answer(status: number, text = "") {
    this.status = status;
    this.responseText = text;
    this.onload?.();
  }
}

function post(ours: boolean, signal = new AbortController().signal) {
  const xhr = new FakeXhr();
  const progress: number[] = [];
  const form = new FormData();
  form.append("file", new File(["x"], "x.txt"));
  const done = postForm(
    { url: ours ? "http://h:1/api/files/f1/content" : "https://bucket/", ours, form, onProgress: (p) => progress.push(p), signal },
    () => xhr as unknown as XMLHttpRequest,
  );
  return { xhr, progress, done, form };
}

describe("postForm", () => {
  it("posts to this server with the CSRF header and reports progress", async () => {
    const { xhr, progress, done, form } = post(true);
    expect(xhr).toMatchObject({ method: "POST", url: "http://h:1/api/files/f1/content", withCredentials: false });
    expect(xhr.headers["X-Parley-CSRF"]).toBe("1");
    expect(xhr.body).toBe(form);
    xhr.upload.onprogress?.({ lengthComputable: true, loaded: 50, total: 200 });
    xhr.upload.onprogress?.({ lengthComputable: false, loaded: 0, total: 0 });
    xhr.answer(200, "{}");
    await done;
    expect(progress).toEqual([0.25, 1]);
  });

  it("sends storage no header of ours, and says what its refusal means", async () => {
    const tooBig = post(false);
    expect(tooBig.xhr.headers).toEqual({});
    tooBig.xhr.answer(400, "<Error><Code>EntityTooLarge</Code><Message>Your proposed upload…</Message></Error>");
    await expect(tooBig.done).rejects.toMatchObject({ status: 400, message: "The file is larger than allowed." });

    const other = post(false);
    other.xhr.answer(403, "<Error><Code>SignatureDoesNotMatch</Code></Error>");
    await expect(other.done).rejects.toThrow(/refused the upload \(403\)/);
  });

  it("carries the server's error message, a network failure, and a cancel", async () => {
    const refused = post(true);
    refused.xhr.answer(413, JSON.stringify({ error: { code: "too_large", message: "Over your 500 MB of files." } }));
    await expect(refused.done).rejects.toMatchObject({ status: 413, code: "too_large", message: "Over your 500 MB of files." });

    const offline = post(true);
    offline.xhr.onerror?.();
    await expect(offline.done).rejects.toMatchObject({ status: 0, code: "network" });

    const abort = new AbortController();
    const cancelled = post(true, abort.signal);
    abort.abort();
    expect(cancelled.xhr.aborted).toBe(true);
    await expect(cancelled.done).rejects.toMatchObject({ name: "AbortError" });
  });
});
