// The conversation list: new chat, search (titles in the list, then the hits in messages), newest first
// grouped by day, loaded a page at a time as it scrolls; rename in place, delete after confirming.
import { useEffect, useRef, useState, type KeyboardEvent } from "react";
import type { ConversationOut } from "../api/types";
import type { ConversationsStore } from "../chat/conversationsStore";
import { groupByDate } from "../lib/dates";
import { useStore } from "../lib/store";
import { pathFor } from "../router";
import { MessageHits } from "../search/MessageHits";
import type { SearchStore } from "../search/searchStore";
import { ConfirmDialog } from "./Dialog";
import {
  DownloadIcon,
  LinkIcon,
  LogoIcon,
  LogoutIcon,
  NewChatIcon,
  RenameIcon,
  SearchIcon,
  SidebarIcon,
  TrashIcon,
} from "./icons";
import { toasts } from "./toasts";

interface Props {
  store: ConversationsStore;
  searchStore: SearchStore;
  appName: string;
  activeId: string | null;
  username: string;
  onSelect: (id: string | null) => void;
  onOpenMessage: (conversationId: string, messageId: string) => void;
  onDeleted: (id: string) => void;
  onHide: () => void;
  onShowShares: () => void;
  onLogout: () => void;
  /** Where a conversation downloads from, as Markdown or as Parley's JSON. */
  exportUrl: (id: string, format: "json" | "markdown") => string;
}

export function Sidebar(props: Props) {
  const { store, searchStore, appName, activeId, username, onSelect, onOpenMessage, onDeleted, onHide, onLogout, exportUrl } =
    props;
  const { onShowShares } = props;
  const items = useStore(store, (s) => s.items);
  const loaded = useStore(store, (s) => s.loaded);
  const loading = useStore(store, (s) => s.loading);
  const error = useStore(store, (s) => s.error);
  const query = useStore(store, (s) => s.query);
  const nextCursor = useStore(store, (s) => s.nextCursor);
  const messageHits = useStore(searchStore, (s) => s.hits.length);
  const searchingMessages = useStore(searchStore, (s) => s.loading);
  const [search, setSearch] = useState(query);
  const [renaming, setRenaming] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<ConversationOut | null>(null);
  const listRef = useRef<HTMLDivElement>(null);
  const sentinel = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (search === store.getState().query) return;
    const timer = setTimeout(() => {
      void store.search(search);
      void searchStore.search(search);
    }, 250);
    return () => clearTimeout(timer);
  }, [search, store, searchStore]);

  // Load the next page when the end of the list scrolls into view.
  useEffect(() => {
    const target = sentinel.current;
    if (!target) return;
    const observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((e) => e.isIntersecting)) void store.loadMore();
      },
      { root: listRef.current, rootMargin: "200px" },
    );
    observer.observe(target);
    return () => observer.disconnect();
  }, [store, nextCursor, items.length]);

  const confirmDelete = async () => {
    const conversation = deleting;
    setDeleting(null);
    if (!conversation) return;
    try {
      await store.remove(conversation.id);
      searchStore.forget(conversation.id);
      onDeleted(conversation.id);
    } catch (caught) {
      toasts.show(`Could not delete the chat: ${caught instanceof Error ? caught.message : String(caught)}`);
    }
  };

  return (
    <nav className="sidebar" aria-label="Chats">
      <div className="sidebar-top">
        <div className="sidebar-brand">
          <LogoIcon size={24} />
          <span>{appName}</span>
        </div>
        <button type="button" className="icon-button" onClick={onHide} aria-label="Close sidebar" title="Close sidebar">
          <SidebarIcon />
        </button>
      </div>
      <button type="button" className="new-chat-button" onClick={() => onSelect(null)}>
        <NewChatIcon />
        <span>New chat</span>
      </button>
      <div className="search-box">
        <SearchIcon />
        <label htmlFor="chat-search" className="sr-only">
          Search chats
        </label>
        <input
          id="chat-search"
          type="search"
          placeholder="Search chats"
          autoComplete="off"
          value={search}
          onChange={(e) => setSearch(e.target.value)}
        />
      </div>
      <div className="conversation-list" ref={listRef}>
        {groupByDate(items, (c) => c.updated_at).map(([group, conversations]) => (
          <section key={group}>
            <h2 className="group-title">{group}</h2>
            <ul>
              {conversations.map((conversation) => (
                <ConversationItem
                  key={conversation.id}
                  conversation={conversation}
                  active={conversation.id === activeId}
                  renaming={renaming === conversation.id}
                  onSelect={() => onSelect(conversation.id)}
                  onStartRename={() => setRenaming(conversation.id)}
                  onRename={async (title) => {
                    setRenaming(null);
                    if (!title || title === conversation.title) return;
                    try {
                      await store.rename(conversation.id, title);
                    } catch (caught) {
                      toasts.show(`Could not rename the chat: ${caught instanceof Error ? caught.message : String(caught)}`);
                    }
                  }}
                  onCancelRename={() => setRenaming(null)}
                  onDelete={() => setDeleting(conversation)}
                  exportUrl={exportUrl}
                />
              ))}
            </ul>
          </section>
        ))}
        <MessageHits store={searchStore} onOpen={onOpenMessage} />
        {loaded && items.length === 0 && !error && messageHits === 0 && !searchingMessages && (
          <p className="list-note">{query.trim() ? "No chats match your search." : "No chats yet."}</p>
        )}
        {error && (
          <p className="list-note error-text">
            {error}{" "}
            <button type="button" className="link-button" onClick={() => void store.search(query)}>
              Try again
            </button>
          </p>
        )}
        {loading && <p className="list-note">Loading…</p>}
        <div ref={sentinel} className="sentinel" aria-hidden="true" />
      </div>
      <div className="sidebar-footer">
        <span className="avatar" aria-hidden="true">
          {username.slice(0, 1).toUpperCase()}
        </span>
        <span className="username">{username}</span>
        <button type="button" className="icon-button" onClick={onShowShares} aria-label="Shared links" title="Shared links">
          <LinkIcon />
        </button>
        <button type="button" className="icon-button" onClick={onLogout} aria-label="Log out" title="Log out">
          <LogoutIcon />
        </button>
      </div>
      <ConfirmDialog
        open={deleting !== null}
        title="Delete chat?"
        confirmLabel="Delete"
        onConfirm={() => void confirmDelete()}
        onCancel={() => setDeleting(null)}
      >
        This deletes <strong>{deleting?.title}</strong> and all its messages, and revokes its shared links. It cannot
        be undone.
      </ConfirmDialog>
    </nav>
  );
}

interface ItemProps {
  conversation: ConversationOut;
  active: boolean;
  renaming: boolean;
  onSelect: () => void;
  onStartRename: () => void;
  onRename: (title: string) => void;
  onCancelRename: () => void;
  onDelete: () => void;
  exportUrl: (id: string, format: "json" | "markdown") => string;
}

function ConversationItem(props: ItemProps) {
  const { conversation, active, renaming } = props;
  if (renaming) return <RenameField {...props} />;
  return (
    <li className={active ? "conversation active" : "conversation"}>
      <a
        href={pathFor(conversation.id)}
        aria-current={active ? "page" : undefined}
        onClick={(e) => {
          if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
          e.preventDefault();
          props.onSelect();
        }}
        title={conversation.title}
      >
        {conversation.title}
      </a>
      <div className="conversation-actions">
        <ExportMenu conversation={conversation} exportUrl={props.exportUrl} />
        <button type="button" className="icon-button small" onClick={props.onStartRename} aria-label={`Rename “${conversation.title}”`} title="Rename">
          <RenameIcon />
        </button>
        <button type="button" className="icon-button small" onClick={props.onDelete} aria-label={`Delete “${conversation.title}”`} title="Delete">
          <TrashIcon />
        </button>
      </div>
    </li>
  );
}

function ExportMenu({ conversation, exportUrl }: Pick<ItemProps, "conversation" | "exportUrl">) {
  const [open, setOpen] = useState(false);
  const menuId = `export-${conversation.id}`;
  return (
    <div
      className="export-menu"
      onBlur={(e) => {
        if (!e.currentTarget.contains(e.relatedTarget as Node | null)) setOpen(false);
      }}
      onKeyDown={(e) => {
        if (e.key === "Escape") setOpen(false);
      }}
    >
      <button
        type="button"
        className="icon-button small"
        aria-haspopup="menu"
        aria-expanded={open}
        aria-controls={menuId}
        aria-label={`Export “${conversation.title}”`}
        title="Export"
        onClick={() => setOpen(!open)}
      >
        <DownloadIcon />
      </button>
      {open && (
        <div id={menuId} role="menu" className="export-menu-items">
          <a role="menuitem" href={exportUrl(conversation.id, "markdown")} download onClick={() => setOpen(false)}>
            Export as Markdown
          </a>
          <a role="menuitem" href={exportUrl(conversation.id, "json")} download onClick={() => setOpen(false)}>
            Export as JSON
          </a>
        </div>
      )}
    </div>
  );
}

function RenameField({ conversation, onRename, onCancelRename }: ItemProps) {
  const [title, setTitle] = useState(conversation.title);
  const done = useRef(false);
  const finish = (save: boolean) => {
    if (done.current) return;
    done.current = true;
    if (save) onRename(title.trim().replace(/\s+/g, " "));
    else onCancelRename();
  };
  const onKeyDown = (event: KeyboardEvent<HTMLInputElement>) => {
    if (event.key === "Enter") {
      event.preventDefault();
      finish(true);
    } else if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      finish(false);
    }
  };
  return (
    <li className="conversation renaming">
      <label htmlFor={`rename-${conversation.id}`} className="sr-only">
        New title
      </label>
      <input
        id={`rename-${conversation.id}`}
        value={title}
        maxLength={200}
        autoFocus
        onFocus={(e) => e.currentTarget.select()}
        onChange={(e) => setTitle(e.target.value)}
        onKeyDown={onKeyDown}
        onBlur={() => finish(true)}
      />
    </li>
  );
}
