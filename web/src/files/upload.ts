// Posting a file's form where the server said (this server, or a presigned storage POST) with XMLHttpRequest:
// fetch cannot report how much of a request body has been sent, and a progress bar needs that.
import { ApiError, CSRF_HEADER, errorOf, NETWORK_MESSAGE } from "../api/client";

export interface FormPost {
  /** Absolute URL of the target. */
  url: string;
  /** This server (the session cookie and the CSRF header go along), not storage authorized by its signature. */
  ours: boolean;
  form: FormData;
  /** The fraction of the body sent so far, 0 to 1. */
  onProgress: (fraction: number) => void;
  signal: AbortSignal;
}

export type PostForm = (post: FormPost) => Promise<void>;

/** Resolves once the target answers 2xx; rejects with an ApiError (the server's words when it sent some), or with
 * an AbortError when ``signal`` aborts it. */
export function postForm(post: FormPost, makeRequest: () => XMLHttpRequest = () => new XMLHttpRequest()): Promise<void> {
  const { url, ours, form, onProgress, signal } = post;
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(new DOMException("The upload was cancelled.", "AbortError"));
      return;
    }
    const xhr = makeRequest();
    const abort = () => xhr.abort();
    signal.addEventListener("abort", abort, { once: true });
    const settle = () => signal.removeEventListener("abort", abort);
    xhr.open("POST", url);
    // Cookies go to this origin anyway; a storage URL must get none (and no header that asks for a preflight).
    xhr.withCredentials = false;
    if (ours) {
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader(CSRF_HEADER, "1");
    }
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable && event.total > 0) onProgress(Math.min(1, event.loaded / event.total));
    };
    xhr.onload = () => {
      settle();
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        resolve();
      } else {
        reject(ours ? errorOf(xhr.status, xhr.statusText, parseJson(xhr.responseText)) : storageError(xhr));
      }
    };
    xhr.onerror = () => {
      settle();
      reject(new ApiError(0, "network", NETWORK_MESSAGE));
    };
    xhr.onabort = () => {
      settle();
      reject(new DOMException("The upload was cancelled.", "AbortError"));
    };
    xhr.send(form);
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** Storage answers in XML (``<Error><Code>…``); its words are not for users, so say what it means. */
function storageError(xhr: XMLHttpRequest): ApiError {
  const code = /<Code>([^<]+)<\/Code>/.exec(xhr.responseText ?? "")?.[1] ?? "";
  if (code === "EntityTooLarge") return new ApiError(xhr.status, "too_large", "The file is larger than allowed.");
  if (code === "AccessDenied" && /expired/i.test(xhr.responseText ?? "")) {
    return new ApiError(xhr.status, "expired", "The upload took too long and its link expired. Try again.");
  }
  return new ApiError(xhr.status, "upload_refused", `The file store refused the upload (${xhr.status}). Try again.`);
}
