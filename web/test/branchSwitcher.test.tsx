import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "../src/api/client";
import type { ConversationDetail, MessageOut } from "../src/api/types";
import { ChatStore, type ChatMessage } from "../src/chat/chatStore";
import { StreamText } from "../src/chat/streamText";
import { BranchSwitcher } from "../src/components/BranchSwitcher";
import { MessageList } from "../src/components/MessageList";
import { MessageView } from "../src/components/MessageView";

afterEach(cleanup);

const versions = (position: number, total: number) => ({
  position,
  total,
  previous: position > 1 ? `v${position - 1}` : null,
  next: position < total ? `v${position + 1}` : null,
});

describe("BranchSwitcher", () => {
  it("says where you are, to the eye and to a screen reader, and steps either way", () => {
    const onSwitch = vi.fn();
    render(<BranchSwitcher versions={versions(2, 3)} disabled={false} onSwitch={onSwitch} />);
    const group = screen.getByRole("group", { name: "Version 2 of 3" });
    expect(group.textContent).toBe("2 / 3");
    fireEvent.click(screen.getByRole("button", { name: "Previous version" }));
    fireEvent.click(screen.getByRole("button", { name: "Next version" }));
    expect(onSwitch.mock.calls).toEqual([["previous"], ["next"]]);
  });

  it("has nothing before the first version or after the last", () => {
    render(<BranchSwitcher versions={versions(1, 2)} disabled={false} onSwitch={() => undefined} />);
    expect(screen.getByRole("button", { name: "Previous version" })).toHaveProperty("disabled", true);
    expect(screen.getByRole("button", { name: "Next version" })).toHaveProperty("disabled", false);
  });

  it("waits while an answer is written or a switch is under way", () => {
    render(<BranchSwitcher versions={versions(2, 3)} disabled={true} onSwitch={() => undefined} />);
    for (const name of ["Previous version", "Next version"]) {
      expect(screen.getByRole("button", { name })).toHaveProperty("disabled", true);
    }
  });
});

function chatMessage(id: string, role: "user" | "assistant", text: string, siblingIds: string[]): ChatMessage {
  return { key: id, id, role, status: "complete", text: StreamText.from(text), msgid: null, error: null, siblingIds, attachments: [], citations: [] };
}

function view(message: ChatMessage, busy = false) {
  const onSwitch = vi.fn();
  render(
    <MessageView
      message={message}
      turn={3}
      tick={0}
      streaming={false}
      isLastAnswer={true}
      busy={busy}
      appName="Parley"
      fileUrl={(id) => `/api/files/${id}/content`}
      onEdit={() => undefined}
      onRegenerate={() => undefined}
      onSwitch={onSwitch}
    />,
  );
  return onSwitch;
}

describe("MessageView versions", () => {
  it("shows no switcher on a message with one version", () => {
    view(chatMessage("u1", "user", "Hi", ["u1"]));
    view(chatMessage("a1", "assistant", "Hello", ["a1"]));
    expect(screen.queryByRole("group")).toBeNull();
  });

  it("shows it on an edited question and on a regenerated answer, and says which message and place to switch", () => {
    const question = chatMessage("u2", "user", "Hi again", ["u1", "u2"]);
    const onQuestion = view(question);
    screen.getByRole("group", { name: "Version 2 of 2" });
    fireEvent.click(screen.getByRole("button", { name: "Previous version" }));
    expect(onQuestion).toHaveBeenCalledWith(question, 3, "previous");
    cleanup();

    view(chatMessage("a1", "assistant", "Hello", ["a1", "a2", "a3"]), true);
    screen.getByRole("group", { name: "Version 1 of 3" });
    expect(screen.getByRole("button", { name: "Next version" })).toHaveProperty("disabled", true); // busy
  });

  it("keeps the switcher of a failed answer, so an earlier version can be shown again", () => {
    const failed = { ...chatMessage("a2", "assistant", "", ["a1", "a2"]), status: "error" as const, error: "No." };
    view(failed);
    screen.getByRole("group", { name: "Version 2 of 2" });
  });
});

describe("MessageList switching", () => {
  // jsdom does not scroll; the calls say whether the list would have moved.
  const scrollTo = vi.fn();
  beforeEach(() => {
    scrollTo.mockClear();
    Element.prototype.scrollTo = scrollTo as unknown as Element["scrollTo"];
  });
  afterEach(() => {
    delete (Element.prototype as Partial<Element>).scrollTo;
  });

  function message(id: string, role: "user" | "assistant", content: string, sibling_ids: string[]): MessageOut {
    return {
      id,
      seq: 0,
      parent_id: null,
      sibling_ids,
      attachments: [],
      citations: [],
      role,
      content,
      status: "complete",
      model: null,
      finish_reason: null,
      error: null,
      usage: null,
      msgid: null,
      created_at: 0,
      updated_at: 0,
    };
  }
  const branch = (answer: MessageOut): ConversationDetail => ({
    id: "c1",
    title: "T",
    model: "m",
    created_at: 0,
    updated_at: 0,
    current_leaf_id: answer.id,
    messages: [message("u1", "user", "Question", ["u1"]), answer],
  });
  const first = branch(message("a1", "assistant", "First answer", ["a1", "a2"]));
  const second = branch(message("a2", "assistant", "Second answer", ["a1", "a2"]));

  async function mounted(switchBranch: (id: string, messageId: string) => Promise<ConversationDetail>) {
    const store = new ChatStore({
      api: { getConversation: async () => structuredClone(second), switchBranch },
      send: () => true,
      params: () => ({}),
      frame: (callback) => ({ schedule: callback, flush: () => undefined, cancel: () => undefined }),
    });
    store.open("c1");
    await act(async () => undefined);
    const onSwitch = async (id: string) => {
      try {
        return await store.switchBranch(id);
      } catch {
        return false;
      }
    };
    render(<MessageList store={store} appName="Parley" fileUrl={(id) => id} onEdit={() => undefined} onRegenerate={() => undefined} onSwitch={onSwitch} />);
    return store;
  }

  it("shows the other version, keeps the keyboard on the switcher, and says what it shows", async () => {
    const switchBranch = vi.fn(async () => structuredClone(first));
    await mounted(switchBranch);
    const previous = screen.getByRole("button", { name: "Previous version" });
    previous.focus();
    scrollTo.mockClear();
    await act(async () => {
      fireEvent.click(previous);
    });
    expect(switchBranch).toHaveBeenCalledWith("c1", "a1", expect.any(AbortSignal));
    expect(screen.getByText("First answer")).toBeTruthy();
    expect(screen.queryByText("Second answer")).toBeNull();
    screen.getByRole("group", { name: "Version 1 of 2" });
    // The first version has no previous one: the focus lands on its way back.
    expect(document.activeElement).toBe(screen.getByRole("button", { name: "Next version" }));
    expect(screen.getByRole("status").textContent).toBe("Showing version 1 of 2.");
    expect(scrollTo).not.toHaveBeenCalled(); // the page stays where the reader is
  });

  it("leaves the branch as it was when the server refuses", async () => {
    await mounted(async () => {
      throw new ApiError(404, "not_found", "Message not found.");
    });
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Previous version" }));
    });
    expect(screen.getByText("Second answer")).toBeTruthy();
    expect(screen.getByRole("button", { name: "Previous version" })).toHaveProperty("disabled", false);
  });
});
