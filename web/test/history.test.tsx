import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiClient } from "../src/api/client";
import type { ImportJob, ImportUpload } from "../src/api/types";
import { HistorySection } from "../src/components/HistorySection";

afterEach(cleanup);

function job(overrides: Partial<ImportJob> = {}): ImportJob {
  return {
    id: "j".repeat(32),
    file_name: "archive.zip",
    status: "queued",
    created_at: 1,
    updated_at: 1,
    conversations_imported: 0,
    duplicates: 0,
    skipped: [],
    progress: { bytes_read: 0, bytes_total: 100 },
    error: null,
    ...overrides,
  };
}

function upload(url: string, fields: Record<string, string> = {}): ImportUpload {
  return { job: job(), upload: { url, fields, max_bytes: 1000 } };
}

describe("ApiClient uploads", () => {
  it("sends the file to its own server with the session and the CSRF header", async () => {
    const fetch = vi.fn(async () => new Response(JSON.stringify(job()), { status: 202 }));
    const api = new ApiClient({ baseUrl: "http://h:1", fetch });
    const file = new File(["{}"], "one.json");
    await api.uploadImport(upload("/api/imports/abc/file"), file);
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe("http://h:1/api/imports/abc/file");
    expect((init.headers as Record<string, string>)["X-Parley-CSRF"]).toBe("1");
    expect(init.credentials).toBe("same-origin");
    expect((init.body as FormData).get("file")).toBeInstanceOf(File);
  });

  it("sends the file to a storage URL with its signed fields first, and no credentials", async () => {
    const fetch = vi.fn(async () => new Response(null, { status: 204 }));
    const api = new ApiClient({ baseUrl: "http://h:1", fetch });
    await api.uploadImport(upload("https://bucket.s3.example/", { key: "imports/u/j", policy: "p" }), new File(["x"], "a.zip"));
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe("https://bucket.s3.example/");
    expect(init.credentials).toBe("omit");
    expect(init.headers).toEqual({});
    const form = init.body as FormData;
    expect([...form.keys()]).toEqual(["key", "policy", "file"]);
  });

  it("makes one conversation's download URL and resolves an archive link against the server", async () => {
    const fetch = vi.fn(async () => new Response(JSON.stringify({ download_url: "/api/exports/tok" }), { status: 200 }));
    const api = new ApiClient({ baseUrl: "http://h:1/", fetch });
    expect(api.exportUrl("a b", "markdown")).toBe("http://h:1/api/conversations/a%20b/export?format=markdown");
    await expect(api.exportLink()).resolves.toBe("http://h:1/api/exports/tok");
  });
});

describe("HistorySection", () => {
  it("uploads, shows progress, then what was imported and skipped and why", async () => {
    vi.useFakeTimers();
    const running = job({ status: "running", conversations_imported: 1, progress: { bytes_read: 40, bytes_total: 100 } });
    const done = job({
      status: "done",
      conversations_imported: 2,
      duplicates: 1,
      skipped: [{ name: "Odd role", reason: "message 1 has the role 'wizard'" }],
      progress: { bytes_read: 100, bytes_total: 100 },
    });
    const api = {
      exportLink: vi.fn(),
      createImport: vi.fn(async () => upload("/api/imports/x/file")),
      uploadImport: vi.fn(async () => undefined),
      getImport: vi.fn().mockResolvedValueOnce(running).mockResolvedValueOnce(done),
    };
    const onImported = vi.fn();
    render(<HistorySection api={api} onImported={onImported} pollMs={10} />);
    const input = screen.getByLabelText("File to import") as HTMLInputElement;
    await act(async () => {
      fireEvent.change(input, { target: { files: [new File(["x"], "archive.zip")] } });
    });
    await act(async () => {
      await vi.advanceTimersByTimeAsync(10);
    });
    expect(screen.getByRole("progressbar", { name: "Import progress" }).getAttribute("value")).toBe("40");
    await act(async () => {
      await vi.advanceTimersByTimeAsync(10);
    });
    expect(screen.getByText(/Imported 2 conversation\(s\) from archive.zip\. 1 were imported before/)).toBeTruthy();
    expect(screen.getByText("Odd role").parentElement?.textContent).toBe("Odd role: message 1 has the role 'wizard'");
    expect(onImported).toHaveBeenCalledOnce();
    vi.useRealTimers();
  });

  it("says why an upload was refused", async () => {
    const api = {
      exportLink: vi.fn(),
      createImport: vi.fn(async () => {
        throw new Error("The file is larger than this server accepts (512 MB).");
      }),
      uploadImport: vi.fn(),
      getImport: vi.fn(),
    };
    render(<HistorySection api={api} onImported={vi.fn()} />);
    await act(async () => {
      fireEvent.change(screen.getByLabelText("File to import"), { target: { files: [new File(["x"], "big.zip")] } });
    });
    expect(screen.getByRole("alert").textContent).toBe("Could not import: The file is larger than this server accepts (512 MB).");
    expect(api.uploadImport).not.toHaveBeenCalled();
  });
});
