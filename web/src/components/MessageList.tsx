// The conversation's messages. Follows the answer down while you are at the bottom; scroll up to read
// and it stays put, with a button to jump back down. Switching a message to another version leaves the
// page where it is and keeps the keyboard on the switcher.
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from "react";
import { versionsOf, type ChatMessage, type ChatStore } from "../chat/chatStore";
import { useStore } from "../lib/store";
import type { Direction } from "./BranchSwitcher";
import { ArrowDownIcon } from "./icons";
import { MessageView } from "./MessageView";

interface Props {
  store: ChatStore;
  appName: string;
  fileUrl: (fileId: string) => string;
  onEdit: (key: string, text: string) => void;
  onRegenerate: () => void;
  /** Show the branch through this message; resolves true once shown (false: not switched, and said why). */
  onSwitch: (messageId: string) => Promise<boolean>;
}

const NEAR_BOTTOM_PX = 80;
const FOUND_MS = 2000;

/** Where a switch was asked for: the switcher at that place in the new branch gets the focus back. */
interface Landing {
  turn: number;
  to: Direction;
}

export function MessageList({ store, appName, fileUrl, onEdit, onRegenerate, onSwitch }: Props) {
  const messages = useStore(store, (s) => s.messages);
  const generation = useStore(store, (s) => s.generation);
  const switching = useStore(store, (s) => s.switching);
  const tick = useStore(store, (s) => s.tick);
  const scroller = useRef<HTMLDivElement>(null);
  const [atBottom, setAtBottom] = useState(true);
  const follow = useRef(true);
  const landing = useRef<Landing | null>(null);
  const shownCount = useRef(-1);

  const onScroll = useCallback(() => {
    const el = scroller.current;
    if (!el) return;
    const near = el.scrollHeight - el.scrollTop - el.clientHeight < NEAR_BOTTOM_PX;
    follow.current = near;
    setAtBottom(near);
  }, []);

  const scrollToBottom = useCallback((smooth: boolean) => {
    const el = scroller.current;
    if (!el) return;
    el.scrollTo({ top: el.scrollHeight, behavior: smooth ? "smooth" : "auto" });
    follow.current = true;
    setAtBottom(true);
  }, []);

  useLayoutEffect(() => {
    const landed = landing.current;
    landing.current = null;
    if (landed) {
      // Another version replaced this part of the branch: what is above it did not move, so stay put.
      shownCount.current = messages.length;
      if (scroller.current) focusSwitcher(scroller.current, landed);
    } else if (messages.length !== shownCount.current) {
      shownCount.current = messages.length;
      scrollToBottom(false); // a new message (sent or loaded) always scrolls to it
    } else if (follow.current) {
      scroller.current?.scrollTo({ top: scroller.current.scrollHeight });
    }
  }, [tick, messages, scrollToBottom]);

  // A search hit opened: bring its message into view and mark it for a moment. After the layout effects
  // above, so the scroll to the bottom on load comes first.
  const focus = useStore(store, (s) => s.focus);
  useEffect(() => {
    const el = scroller.current;
    if (!focus || !el) return;
    const target = [...el.querySelectorAll<HTMLElement>("[data-message-id]")].find(
      (node) => node.dataset.messageId === focus.messageId,
    );
    if (!target) return;
    follow.current = false;
    setAtBottom(false);
    target.scrollIntoView({ block: "center" });
    target.classList.add("found");
    const timer = setTimeout(() => target.classList.remove("found"), FOUND_MS);
    return () => {
      clearTimeout(timer);
      target.classList.remove("found");
    };
  }, [focus]);

  const lastAnswerKey = [...messages].reverse().find((m) => m.role === "assistant")?.key;
  const lastAnswer = messages.find((m) => m.key === lastAnswerKey);
  const [announcement, announce] = useAnnouncement(generation !== null, lastAnswer?.status);

  const switchVersion = useCallback(
    (message: ChatMessage, turn: number, to: Direction) => {
      const versions = versionsOf(message);
      const target = to === "previous" ? versions.previous : versions.next;
      if (target === null) return;
      landing.current = { turn, to };
      void onSwitch(target).then((shown) => {
        if (!shown) {
          landing.current = null;
          return;
        }
        const now = store.getState().messages[turn];
        if (now) announce(`Showing version ${versionsOf(now).position} of ${versionsOf(now).total}.`);
      });
    },
    [onSwitch, store, announce],
  );

  return (
    <div className="message-scroller" ref={scroller} onScroll={onScroll}>
      <div className="messages" role="log" aria-label="Messages" aria-live="off">
        {messages.map((message, turn) => {
          const streaming = generation?.assistantKey === message.key;
          return (
            <MessageView
              key={message.key}
              message={message}
              turn={turn}
              tick={streaming ? tick : 0}
              streaming={streaming}
              isLastAnswer={message.key === lastAnswerKey}
              busy={generation !== null || switching}
              appName={appName}
              fileUrl={fileUrl}
              onEdit={onEdit}
              onRegenerate={onRegenerate}
              onSwitch={switchVersion}
            />
          );
        })}
      </div>
      <div className="sr-only" role="status" aria-live="polite">
        {announcement}
      </div>
      {!atBottom && (
        <button type="button" className="scroll-down" onClick={() => scrollToBottom(true)} aria-label="Scroll to the newest message">
          <ArrowDownIcon />
        </button>
      )}
    </div>
  );
}

/** After a switch, the same button in the new version's switcher (or its other one, at either end) takes the
 * focus the old one lost with its message, unless the focus has gone somewhere else meanwhile. */
function focusSwitcher(list: HTMLElement, { turn, to }: Landing): void {
  if (document.activeElement !== null && document.activeElement !== document.body) return;
  const group = list.querySelector(`[data-turn="${turn}"] .branch-switcher`);
  const button =
    group?.querySelector<HTMLButtonElement>(`button[data-to="${to}"]:not(:disabled)`) ??
    group?.querySelector<HTMLButtonElement>("button:not(:disabled)");
  button?.focus();
}

/** What the polite status region says: an answer's start and end, or what a switch showed. */
function useAnnouncement(generating: boolean, status: string | undefined): [string, (text: string) => void] {
  const [text, setText] = useState("");
  const was = useRef(generating);
  useEffect(() => {
    if (generating && !was.current) setText("Answering…");
    if (!generating && was.current) {
      setText(
        status === "stopped"
          ? "Answer stopped."
          : status === "error" || status === "interrupted"
            ? "The answer failed."
            : "Answer complete.",
      );
    }
    was.current = generating;
  }, [generating, status]);
  return [text, setText];
}
