// The conversation's messages. Follows the answer down while you are at the bottom; scroll up to read
// and it stays put, with a button to jump back down.
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from "react";
import type { ChatStore } from "../chat/chatStore";
import { useStore } from "../lib/store";
import { ArrowDownIcon } from "./icons";
import { MessageView } from "./MessageView";

interface Props {
  store: ChatStore;
  appName: string;
  onEdit: (key: string, text: string) => void;
  onRegenerate: () => void;
}

const NEAR_BOTTOM_PX = 80;
const FOUND_MS = 2000;

export function MessageList({ store, appName, onEdit, onRegenerate }: Props) {
  const messages = useStore(store, (s) => s.messages);
  const generation = useStore(store, (s) => s.generation);
  const tick = useStore(store, (s) => s.tick);
  const scroller = useRef<HTMLDivElement>(null);
  const [atBottom, setAtBottom] = useState(true);
  const follow = useRef(true);

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

  // A new message (sent or loaded) always scrolls to it.
  const count = messages.length;
  useLayoutEffect(() => {
    scrollToBottom(false);
  }, [count, scrollToBottom]);

  useLayoutEffect(() => {
    if (follow.current) scroller.current?.scrollTo({ top: scroller.current.scrollHeight });
  }, [tick, messages]);

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
  const announcement = useAnnouncement(generation !== null, lastAnswer?.status);

  return (
    <div className="message-scroller" ref={scroller} onScroll={onScroll}>
      <div className="messages" role="log" aria-label="Messages" aria-live="off">
        {messages.map((message) => {
          const streaming = generation?.assistantKey === message.key;
          return (
            <MessageView
              key={message.key}
              message={message}
              tick={streaming ? tick : 0}
              streaming={streaming}
              isLastAnswer={message.key === lastAnswerKey}
              busy={generation !== null}
              appName={appName}
              onEdit={onEdit}
              onRegenerate={onRegenerate}
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

function useAnnouncement(generating: boolean, status: string | undefined): string {
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
  return text;
}
