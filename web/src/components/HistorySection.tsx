// "Your data" in the settings: download every conversation as one archive, and import an archive (Parley's, or
// another app's export). An import runs on the server as a job; its progress and result are shown as it goes.
import { useEffect, useRef, useState } from "react";
import type { ApiClient } from "../api/client";
import type { ImportJob } from "../api/types";

type HistoryApi = Pick<ApiClient, "exportLink" | "createImport" | "uploadImport" | "getImport">;

interface Props {
  api: HistoryApi;
  /** An import finished with conversations in it: the list should show them. */
  onImported: () => void;
  pollMs?: number;
}

type ImportState =
  | { phase: "idle" }
  | { phase: "uploading"; fileName: string }
  | { phase: "importing"; job: ImportJob }
  | { phase: "finished"; job: ImportJob }
  | { phase: "error"; message: string };

export function HistorySection({ api, onImported, pollMs = 1000 }: Props) {
  const [exporting, setExporting] = useState(false);
  const [exportError, setExportError] = useState<string | null>(null);
  const [state, setState] = useState<ImportState>({ phase: "idle" });
  const fileInput = useRef<HTMLInputElement>(null);
  const alive = useRef(true);
  useEffect(() => {
    alive.current = true;
    return () => {
      alive.current = false;
    };
  }, []);

  const exportAll = async () => {
    setExporting(true);
    setExportError(null);
    try {
      const url = await api.exportLink();
      const link = document.createElement("a");
      link.href = url;
      link.download = "parley-export.zip";
      link.rel = "noopener";
      document.body.appendChild(link);
      link.click();
      link.remove();
    } catch (caught) {
      setExportError(caught instanceof Error ? caught.message : String(caught));
    } finally {
      setExporting(false);
    }
  };

  const importFile = async (file: File) => {
    setState({ phase: "uploading", fileName: file.name });
    try {
      const upload = await api.createImport(file);
      await api.uploadImport(upload, file);
      let job = upload.job;
      setState({ phase: "importing", job });
      while (alive.current && (job.status === "queued" || job.status === "running")) {
        await new Promise((resolve) => setTimeout(resolve, pollMs));
        job = await api.getImport(job.id);
        if (alive.current) setState({ phase: job.status === "done" || job.status === "failed" ? "finished" : "importing", job });
      }
      if (job.conversations_imported > 0) onImported();
    } catch (caught) {
      if (alive.current) setState({ phase: "error", message: caught instanceof Error ? caught.message : String(caught) });
    }
  };

  const busy = state.phase === "uploading" || state.phase === "importing";
  return (
    <section className="settings-section" aria-labelledby="data-heading">
      <h3 id="data-heading">Your data</h3>
      <div className="data-actions">
        <button type="button" className="secondary-button small" onClick={() => void exportAll()} disabled={exporting}>
          {exporting ? "Preparing…" : "Export all"}
        </button>
        <button type="button" className="secondary-button small" onClick={() => fileInput.current?.click()} disabled={busy}>
          Import…
        </button>
        <input
          ref={fileInput}
          type="file"
          className="sr-only"
          tabIndex={-1}
          aria-label="File to import"
          accept=".zip,.json,application/zip,application/json"
          onChange={(e) => {
            const file = e.target.files?.[0];
            e.target.value = "";
            if (file) void importFile(file);
          }}
        />
      </div>
      <p className="field-hint">
        Export all downloads every conversation as a zip. Import reads a Parley export, or another app's export.
      </p>
      {exportError && (
        <p className="error-text" role="alert">
          Could not export: {exportError}
        </p>
      )}
      <ImportStatus state={state} />
    </section>
  );
}

function ImportStatus({ state }: { state: ImportState }) {
  if (state.phase === "idle") return null;
  if (state.phase === "error") {
    return (
      <p className="error-text" role="alert">
        Could not import: {state.message}
      </p>
    );
  }
  if (state.phase === "uploading") {
    return (
      <p role="status" className="import-status">
        Uploading {state.fileName}…
      </p>
    );
  }
  const { job } = state;
  const total = job.progress.bytes_total;
  const percent = total > 0 ? Math.min(100, Math.round((job.progress.bytes_read / total) * 100)) : 0;
  if (state.phase === "importing") {
    return (
      <div role="status" className="import-status">
        <p>
          Importing {job.file_name}… {job.conversations_imported} conversation(s) so far.
        </p>
        <progress max={100} value={percent} aria-label="Import progress" />
      </div>
    );
  }
  if (job.status === "failed") {
    return (
      <div role="alert" className="import-status">
        <p className="error-text">
          {job.file_name} could not be imported: {job.error}
        </p>
        {job.conversations_imported > 0 && <p>{job.conversations_imported} conversation(s) were imported before it stopped.</p>}
      </div>
    );
  }
  return (
    <div role="status" className="import-status">
      <p>
        Imported {job.conversations_imported} conversation(s) from {job.file_name}.
        {job.duplicates > 0 && ` ${job.duplicates} were imported before and were skipped.`}
      </p>
      {job.skipped.length > 0 && (
        <>
          <p>Skipped {job.skipped.length} that could not be read:</p>
          <ul className="skipped-list">
            {job.skipped.map((skipped, index) => (
              <li key={index}>
                <strong>{skipped.name}</strong>: {skipped.reason}
              </li>
            ))}
          </ul>
        </>
      )}
    </div>
  );
}
