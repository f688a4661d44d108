import { cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { AttachmentRef } from "../src/api/types";
import { AttachmentChips } from "../src/components/AttachmentChips";
import { Composer } from "../src/components/Composer";
import { Citations, MessageAttachments } from "../src/components/MessageFiles";
import { AttachmentsStore, type Attachment } from "../src/files/attachmentsStore";
import { formatBytes } from "../src/files/format";

const fileUrl = (id: string) => `/api/files/${id}/content`;

function chip(name: string, extra: Partial<Attachment> = {}): Attachment {
  return {
    key: name,
    name,
    size: 2048,
    mediaType: "text/markdown",
    kind: null,
    status: "ready",
    progress: 1,
    fileId: `id-${name}`,
    error: null,
    truncated: false,
    ...extra,
  };
}

/** A store holding these chips as they are (no uploads run). */
class Holding extends AttachmentsStore {
  constructor(items: Attachment[]) {
    super({
      api: {
        createFileUpload: vi.fn(),
        getFile: vi.fn(),
        deleteFile: vi.fn(async () => undefined),
        uploadTarget: (url) => ({ url, ours: true }),
      },
    });
    this.setState({ items });
  }
}

afterEach(cleanup);

describe("attachment chips", () => {
  it("show each state: progress while uploading, processing, ready with a thumbnail, and the error", () => {
    render(
      <AttachmentChips
        items={[
          chip("draft.md", { status: "uploading", progress: 0.4, fileId: null }),
          chip("report.pdf", { status: "processing", mediaType: "application/pdf" }),
          chip("cat.png", { mediaType: "image/png", kind: "image" }),
          chip("book.txt", { truncated: true }),
          chip("secret.pdf", { status: "error", error: "This PDF is encrypted." }),
        ]}
        fileUrl={fileUrl}
        modelName="Fake"
        modelCanSee={true}
        onRemove={() => undefined}
      />,
    );
    const chips = within(screen.getByRole("list", { name: "Attached files" })).getAllByRole("listitem");
    expect(chips.map((c) => c.dataset.status)).toEqual(["uploading", "processing", "ready", "ready", "error"]);

    expect(chips[0]?.textContent).toContain("2.0 KB · uploading 40%");
    expect(within(chips[0]!).getByRole("progressbar", { name: "Uploading draft.md" })).toHaveProperty("value", 0.4);
    expect(chips[1]?.textContent).toContain("processing…");
    expect(within(chips[1]!).queryByRole("progressbar")).toBeNull();
    expect(chips[2]?.textContent).toContain("ready");
    expect(chips[2]!.querySelector("img")?.getAttribute("src")).toBe("/api/files/id-cat.png/content");
    expect(chips[1]!.querySelector("img")).toBeNull(); // a document has an icon, not a thumbnail
    expect(chips[3]?.textContent).toContain("This file is long: only its beginning is read.");
    expect(chips[2]?.textContent).not.toContain("long");
    expect(within(chips[4]!).getByRole("alert")?.textContent).toContain("This PDF is encrypted.");
    expect(screen.queryByText(/cannot see images/)).toBeNull();
  });

  it("warns on an image when the model cannot see, and not on a document", () => {
    render(
      <AttachmentChips
        items={[chip("cat.png", { mediaType: "image/png", status: "uploading", fileId: null }), chip("notes.md")]}
        fileUrl={fileUrl}
        modelName="Tiny"
        modelCanSee={false}
        onRemove={() => undefined}
      />,
    );
    const [image, document] = screen.getAllByRole("listitem");
    expect(image?.textContent).toContain("Tiny cannot see images: pick a model that can, or remove this one.");
    expect(document?.textContent).not.toContain("cannot see");
  });

  it("has a named remove button for each file", () => {
    const onRemove = vi.fn();
    render(<AttachmentChips items={[chip("a.md"), chip("b.md")]} fileUrl={fileUrl} modelName={null} modelCanSee onRemove={onRemove} />);
    fireEvent.click(screen.getByRole("button", { name: "Remove b.md" }));
    expect(onRemove).toHaveBeenCalledWith("b.md");
  });
});

function composer(items: Attachment[], onSend = vi.fn(() => true)) {
  const store = new Holding(items);
  const onAttach = vi.fn();
  render(
    <Composer
      appName="Parley"
      generating={false}
      canSend={true}
      offlineReason={null}
      attachments={store}
      fileUrl={fileUrl}
      modelName="Fake"
      modelCanSee={true}
      onAttach={onAttach}
      onSend={onSend}
      onStop={() => undefined}
    />,
  );
  fireEvent.change(screen.getByLabelText("Message"), { target: { value: "What is in these?" } });
  return { store, onSend, onAttach, sendButton: screen.getByRole("button", { name: "Send message" }) };
}

describe("Composer with files", () => {
  it("cannot send while a file is not ready, and says why", () => {
    const { sendButton } = composer([chip("a.md"), chip("b.md", { status: "processing" })]);
    expect(sendButton).toHaveProperty("disabled", true);
    expect(screen.getByText("Your message can be sent once its files are ready.")).toBeTruthy();
    fireEvent.keyDown(screen.getByLabelText("Message"), { key: "Enter" });
    cleanup();

    const failed = composer([chip("a.md", { status: "error", error: "Unreadable." })]);
    expect(failed.sendButton).toHaveProperty("disabled", true);
    expect(screen.getByText("Remove the files that cannot be used to send your message.")).toBeTruthy();
  });

  it("sends the ready files with the prompt and empties itself", () => {
    const { store, onSend, sendButton } = composer([
      chip("a.md", { kind: "document" }),
      chip("cat.png", { kind: "image", mediaType: "image/png" }),
    ]);
    expect(sendButton).toHaveProperty("disabled", false);
    fireEvent.click(sendButton);
    expect(onSend).toHaveBeenCalledWith("What is in these?", [
      { file_id: "id-a.md", name: "a.md", kind: "document", media_type: "text/markdown", size: 2048 },
      { file_id: "id-cat.png", name: "cat.png", kind: "image", media_type: "image/png", size: 2048 },
    ]);
    expect(store.getState().items).toEqual([]);
    expect(screen.queryByRole("list", { name: "Attached files" })).toBeNull();
  });

  it("sends ready files without any text, but nothing at all is not a message", () => {
    const { onSend, sendButton } = composer([chip("cat.png", { kind: "image", mediaType: "image/png" })]);
    fireEvent.change(screen.getByLabelText("Message"), { target: { value: "  " } });
    expect(sendButton).toHaveProperty("disabled", false);
    fireEvent.click(sendButton);
    expect(onSend).toHaveBeenCalledWith("  ", [
      { file_id: "id-cat.png", name: "cat.png", kind: "image", media_type: "image/png", size: 2048 },
    ]);
    cleanup();

    const empty = composer([]);
    fireEvent.change(screen.getByLabelText("Message"), { target: { value: "  " } });
    expect(empty.sendButton).toHaveProperty("disabled", true);
  });

  it("keeps the files when the message could not be sent", () => {
    const { store, sendButton } = composer([chip("a.md")], vi.fn(() => false));
    fireEvent.click(sendButton);
    expect(store.getState().items.map((i) => i.fileId)).toEqual(["id-a.md"]);
    expect(screen.getByLabelText("Message")).toHaveProperty("value", "What is in these?");
  });

  it("attaches pasted files, but pastes text that comes with a picture of itself", () => {
    const { onAttach } = composer([]);
    const box = screen.getByLabelText("Message");
    const image = new File(["png"], "image.png", { type: "image/png" });
    const clipboard = (text: string) => ({ files: [image], getData: (type: string) => (type === "text/plain" ? text : "") });
    fireEvent.paste(box, { clipboardData: clipboard("") });
    expect(onAttach).toHaveBeenCalledWith([image]);
    fireEvent.paste(box, { clipboardData: clipboard("a cell from a spreadsheet") });
    expect(onAttach).toHaveBeenCalledTimes(1);
  });

  it("opens the file picker from a named button", () => {
    const { onAttach } = composer([]);
    const picker = document.querySelector<HTMLInputElement>('input[type="file"]')!;
    const click = vi.spyOn(picker, "click");
    fireEvent.click(screen.getByRole("button", { name: "Attach files" }));
    expect(click).toHaveBeenCalledOnce();
    const chosen = new File(["x"], "x.md");
    fireEvent.change(picker, { target: { files: [chosen] } });
    expect(onAttach).toHaveBeenCalledWith([chosen]);
  });
});

describe("a message's files and sources", () => {
  const refs: AttachmentRef[] = [
    { file_id: "i1", name: "cat.png", kind: "image", media_type: "image/png", size: 10 },
    { file_id: "d1", name: "notes.md", kind: "document", media_type: "text/markdown", size: 3000 },
  ];

  it("shows images inline, opening full size in a new tab, and documents as downloads", () => {
    render(<MessageAttachments items={refs} fileUrl={fileUrl} />);
    const image = screen.getByRole("img", { name: "cat.png" });
    expect(image.getAttribute("src")).toBe("/api/files/i1/content");
    const opener = image.closest("a")!;
    expect(opener.getAttribute("href")).toBe("/api/files/i1/content"); // a new tab, with a middle click
    expect(opener.getAttribute("target")).toBe("_blank");
    expect(opener.getAttribute("rel")).toBe("noopener noreferrer");

    // A plain click opens it full size over the page.
    HTMLDialogElement.prototype.showModal ??= function (this: HTMLDialogElement) {
      this.setAttribute("open", "");
    };
    HTMLDialogElement.prototype.close ??= function (this: HTMLDialogElement) {
      this.removeAttribute("open");
    };
    expect(screen.queryByRole("heading", { name: "cat.png" })).toBeNull();
    fireEvent.click(opener);
    const lightbox = screen.getByRole("heading", { name: "cat.png" }).closest("dialog")!;
    expect(lightbox.open).toBe(true);
    expect(within(lightbox).getByRole("img", { name: "cat.png" }).getAttribute("src")).toBe("/api/files/i1/content");
    fireEvent.click(within(lightbox).getByRole("button", { name: "Close" }));
    expect(screen.queryByRole("heading", { name: "cat.png" })).toBeNull();
    const download = screen.getByRole("link", { name: /notes\.md/ });
    expect(download.getAttribute("download")).toBe("notes.md");
    expect(download?.textContent).toContain("2.9 KB");
  });

  it("numbers an answer's sources, each opening to its passage", () => {
    render(
      <Citations
        items={[
          { file_id: "d1", file_name: "report.pdf", passage_index: 4, page: 3, text: "Revenue grew 12%." },
          { file_id: "d2", file_name: "notes.md", passage_index: 0, page: null, text: "Meeting on Friday." },
        ]}
      />,
    );
    const sources = screen.getByRole("region", { name: "Sources" });
    const items = within(sources).getAllByRole("listitem");
    expect(items[0]?.textContent).toMatch(/^1report\.pdfpage 3/);
    expect(items[1]?.textContent).toMatch(/^2notes\.md/);
    expect(items[1]?.textContent).not.toContain("page");
    const details = items[0]!.querySelector("details")!;
    expect(details.open).toBe(false);
    fireEvent.click(within(items[0]!).getByText("report.pdf"));
    expect(details.querySelector("blockquote")?.textContent).toContain("Revenue grew 12%.");
  });
});

describe("formatBytes", () => {
  it("reads as file managers show sizes", () => {
    expect([0, 1023, 1024, 1536, 10 * 1024, 5 * 1024 * 1024, 3 * 1024 ** 3].map(formatBytes)).toEqual([
      "0 B",
      "1023 B",
      "1.0 KB",
      "1.5 KB",
      "10 KB",
      "5.0 MB",
      "3.0 GB",
    ]);
  });
});
