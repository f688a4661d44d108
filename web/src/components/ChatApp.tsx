// The signed-in app: sidebar, conversation, composer, settings. Owns the socket and the stores for
// as long as the session lasts.
import { useCallback, useEffect, useMemo, useRef, useState, type DragEvent } from "react";
import { ApiError, type ApiClient } from "../api/client";
import { ChatStore, type Refusal } from "../chat/chatStore";
import { ConversationsStore } from "../chat/conversationsStore";
import type { AppConfig } from "../config";
import { AttachmentsStore, MAX_ATTACHMENTS } from "../files/attachmentsStore";
import { useStore, ValueStore } from "../lib/store";
import { navigate, navigateTo, USAGE_PATH, useConversationRoute, useUsageRoute } from "../router";
import { SearchStore } from "../search/searchStore";
import { SettingsStore } from "../settings/settingsStore";
import { ShareDialog } from "../shares/ShareDialog";
import { SharedLinksDialog } from "../shares/SharedLinksDialog";
import { applyTheme } from "../theme";
import { ChatSocket, type SocketState } from "../ws/socket";
import { Composer, type ComposerHandle } from "./Composer";
import { ConnectionBanner } from "./ConnectionBanner";
import { EmptyState } from "./EmptyState";
import { MenuIcon, NewChatIcon, SettingsIcon, ShareIcon, SidebarIcon } from "./icons";
import { MessageList } from "./MessageList";
import { SettingsDrawer } from "./SettingsDrawer";
import { Sidebar } from "./Sidebar";
import { toasts } from "./toasts";
import { UsagePage } from "../usage/UsagePage";
import type { AttachmentRef } from "../api/types";

interface Props {
  config: AppConfig;
  api: ApiClient;
  username: string;
  onLogout: () => void;
}

const PHONE = "(max-width: 767px)";
const SIDEBAR_KEY = "parley.sidebar";

function createServices(config: AppConfig, api: ApiClient) {
  const settings = new SettingsStore(api, { onTheme: applyTheme });
  const conversations = new ConversationsStore(api);
  const search = new SearchStore(api);
  const connection = new ValueStore<SocketState>({ status: "connecting", retryAt: null, everOpened: false });
  const attachments = new AttachmentsStore({ api });
  const refused = new ValueStore<{ refusal: Refusal | null }>({ refusal: null });
  const chat: ChatStore = new ChatStore({
    api,
    send: (message) => socket.send(message),
    params: () => settings.params(),
    onCreated: (event) => navigate(event.conversation_id, { replace: true }),
    onRefused: (refusal) => refused.set({ refusal }),
  });
  const socket: ChatSocket = new ChatSocket({
    url: config.wsUrl,
    getTicket: async () => (await api.wsTicket()).ticket,
    isFatal: (error) => error instanceof ApiError && error.status === 401,
    onEvent: (event) => {
      conversations.handleEvent(event);
      chat.handleEvent(event);
      if (event.type === "error" && event.msgid === null) toasts.show(event.message);
    },
    onState: (state) => connection.set(state),
    onLost: () => chat.socketLost(),
    onOpen: () => chat.socketOpened(),
  });
  return { settings, conversations, search, connection, attachments, refused, chat, socket };
}

export function ChatApp({ config, api, username, onLogout }: Props) {
  const services = useMemo(() => createServices(config, api), [config, api]);
  const { settings, conversations, search, connection, attachments, refused, chat, socket } = services;
  const routeId = useConversationRoute();
  const onUsagePage = useUsageRoute();
  const composer = useRef<ComposerHandle>(null);
  const [settingsOpen, setSettingsOpen] = useState(false);
  const [sharing, setSharing] = useState<string | null>(null); // the conversation whose share dialog is open
  const [linksOpen, setLinksOpen] = useState(false);
  const [drawerOpen, setDrawerOpen] = useState(false); // phones
  const [sidebarHidden, setSidebarHidden] = useState(() => localStorage.getItem(SIDEBAR_KEY) === "hidden");

  useEffect(() => {
    socket.start();
    void settings.load();
    void conversations.search("");
    return () => {
      socket.stop();
      chat.dispose();
      attachments.dispose();
      settings.dispose();
    };
  }, [services, socket, settings, conversations, chat, attachments]);

  // A prompt the server would not take (an image for a model that cannot see): say why, and give it back.
  const refusal = useStore(refused, (s) => s.refusal);
  useEffect(() => {
    if (refusal === null) return;
    refused.set({ refusal: null });
    toasts.show(refusal.message, 8000);
    attachments.restore(refusal.attachments);
    composer.current?.setText(refusal.prompt);
  }, [refusal, refused, attachments]);

  useEffect(() => {
    chat.open(routeId);
    setDrawerOpen(false);
  }, [chat, routeId]);

  const connectionState = useStore(connection, (s) => s);
  const generation = useStore(chat, (s) => s.generation);
  const messages = useStore(chat, (s) => s.messages);
  const loading = useStore(chat, (s) => s.loading);
  const switching = useStore(chat, (s) => s.switching);
  const loadError = useStore(chat, (s) => s.loadError);
  const conversationId = useStore(chat, (s) => s.conversationId);
  const models = useStore(settings, (s) => s.models);
  const modelsLoaded = useStore(settings, (s) => s.loaded);
  useStore(settings, (s) => s.prefs);
  const model = settings.model;
  const title = useStore(conversations, (s) => s.items.find((c) => c.id === conversationId)?.title);

  useEffect(() => {
    document.title = title ? `${title} – ${config.appName}` : config.appName;
  }, [title, config.appName]);

  // Esc stops an answer from anywhere on the page (dialogs handle their own Esc).
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key !== "Escape" || event.defaultPrevented || document.querySelector("dialog[open]")) return;
      if (chat.isGenerating) {
        event.preventDefault();
        chat.stop();
      } else if (drawerOpen) {
        setDrawerOpen(false);
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [chat, drawerOpen]);

  // The phone drawer takes focus when it opens and gives it back to its button when it closes.
  const drawerWasOpen = useRef(false);
  useEffect(() => {
    if (drawerOpen) document.querySelector<HTMLElement>("#sidebar .new-chat-button")?.focus();
    else if (drawerWasOpen.current) document.querySelector<HTMLElement>(".sidebar-toggle")?.focus();
    drawerWasOpen.current = drawerOpen;
  }, [drawerOpen]);

  const select = useCallback((id: string | null) => {
    navigate(id);
    setDrawerOpen(false);
    if (id === null) composer.current?.focus();
  }, []);

  const openMessage = useCallback(
    (conversationId: string, messageId: string) => {
      chat.openAt(conversationId, messageId);
      navigate(conversationId);
      setDrawerOpen(false);
    },
    [chat],
  );

  const toggleSidebar = () => {
    if (window.matchMedia(PHONE).matches) {
      setDrawerOpen((open) => !open);
      return;
    }
    setSidebarHidden((hidden) => {
      localStorage.setItem(SIDEBAR_KEY, hidden ? "shown" : "hidden");
      return !hidden;
    });
  };

  const send = (text: string, files: readonly AttachmentRef[]) => {
    const sent = chat.send(text, files);
    if (!sent) toasts.show("Not connected: your message was not sent. Try again in a moment.");
    return sent;
  };

  const attach = useCallback(
    (files: File[]) => {
      if (attachments.add(files) > 0) toasts.show(`A message can carry at most ${MAX_ATTACHMENTS} files.`);
    },
    [attachments],
  );
  const fileUrl = useCallback((fileId: string) => api.fileContentUrl(fileId), [api]);
  const drop = useFileDrop(!onUsagePage, attach);

  const onEdit = useCallback(
    (key: string, text: string) => {
      if (!chat.editAndResend(key, text)) toasts.show("Could not resend: wait for the answer to finish or reconnect.");
    },
    [chat],
  );
  const onRegenerate = useCallback(() => {
    if (!chat.regenerate()) toasts.show("Could not regenerate: wait for the answer to finish or reconnect.");
  }, [chat]);
  const onSwitch = useCallback(
    async (messageId: string) => {
      try {
        return await chat.switchBranch(messageId);
      } catch (error) {
        toasts.show(`Could not show that version. ${error instanceof Error ? error.message : String(error)}`);
        return false;
      }
    },
    [chat],
  );

  const connected = connectionState.status === "open";
  const showSidebar = !sidebarHidden;

  return (
    <div
      className={`app${showSidebar ? "" : " sidebar-hidden"}${drawerOpen ? " drawer-open" : ""}`}
      data-connection={connectionState.status}
    >
      <a className="skip-link" href="#prompt">
        Skip to message box
      </a>
      <div className="sidebar-shell" id="sidebar">
        <Sidebar
          store={conversations}
          searchStore={search}
          appName={config.appName}
          activeId={conversationId}
          username={username}
          onSelect={select}
          onOpenMessage={openMessage}
          onDeleted={(id) => {
            if (id === chat.getState().conversationId) navigate(null, { replace: true });
          }}
          onHide={toggleSidebar}
          onShowShares={() => setLinksOpen(true)}
          onLogout={onLogout}
          exportUrl={(id, format) => api.exportUrl(id, format)}
        />
      </div>
      {drawerOpen && <div className="scrim" onClick={() => setDrawerOpen(false)} aria-hidden="true" />}
      <div className="main-column" {...drop.handlers}>
        <header className="topbar">
          <button
            type="button"
            className="icon-button sidebar-toggle"
            onClick={toggleSidebar}
            aria-label="Open sidebar"
            aria-controls="sidebar"
            aria-expanded={drawerOpen || showSidebar}
            title="Open sidebar"
          >
            <span className="only-phone">
              <MenuIcon />
            </span>
            <span className="only-desktop">
              <SidebarIcon />
            </span>
          </button>
          <div className="model-picker">
            <label htmlFor="model-select" className="sr-only">
              Model
            </label>
            <select
              id="model-select"
              value={model?.id ?? ""}
              onChange={(e) => settings.update({ model: e.target.value })}
              disabled={models.length === 0}
            >
              {models.length === 0 && <option value="">No models</option>}
              {models.map((m) => (
                <option key={m.id} value={m.id}>
                  {m.name}
                </option>
              ))}
            </select>
          </div>
          <h1 className="topbar-title">{onUsagePage ? "Usage" : (title ?? "")}</h1>
          <button type="button" className="icon-button new-chat-top" onClick={() => select(null)} aria-label="New chat" title="New chat">
            <NewChatIcon />
          </button>
          {conversationId && messages.length > 0 && (
            <button
              type="button"
              className="icon-button"
              onClick={() => setSharing(conversationId)}
              aria-label="Share chat"
              aria-haspopup="dialog"
              title="Share"
              disabled={generation !== null}
            >
              <ShareIcon />
            </button>
          )}
          <button
            type="button"
            className="icon-button"
            onClick={() => setSettingsOpen(true)}
            aria-label="Settings"
            aria-haspopup="dialog"
            title="Settings"
          >
            <SettingsIcon />
          </button>
        </header>
        <ConnectionBanner state={connectionState} onRetry={() => socket.reconnectNow()} />
        {onUsagePage ? (
          <main className="chat usage-main" aria-label="Usage">
            <UsagePage api={api} />
          </main>
        ) : (
          <>
            <main className="chat" aria-label="Chat">
              {loadError ? (
                <div className="load-error" role="alert">
                  <p>{loadError}</p>
                  <button type="button" className="secondary-button" onClick={() => select(null)}>
                    Start a new chat
                  </button>
                </div>
              ) : loading ? (
                <p className="loading-note">Loading…</p>
              ) : messages.length === 0 ? (
                <EmptyState
                  onPick={(text) => composer.current?.setText(text)}
                  noModels={modelsLoaded && models.length === 0}
                />
              ) : (
                <MessageList
                  store={chat}
                  appName={config.appName}
                  fileUrl={fileUrl}
                  onEdit={onEdit}
                  onRegenerate={onRegenerate}
                  onSwitch={onSwitch}
                />
              )}
            </main>
            <Composer
              ref={composer}
              appName={config.appName}
              generating={generation !== null}
              canSend={connected && !loading && !loadError && !switching}
              offlineReason={connected ? null : "Not connected: messages can be sent once the connection is back."}
              attachments={attachments}
              fileUrl={fileUrl}
              modelName={model?.name ?? null}
              modelCanSee={model?.vision !== false}
              onAttach={attach}
              onSend={send}
              onStop={() => chat.stop()}
            />
            {drop.over && (
              <div className="drop-zone" aria-hidden="true">
                <p>Drop files to attach them</p>
              </div>
            )}
          </>
        )}
      </div>
      <ShareDialog
        api={api}
        conversationId={sharing}
        title={title ?? "this chat"}
        onClose={() => setSharing(null)}
        onManage={() => {
          setSharing(null);
          setLinksOpen(true);
        }}
      />
      <SharedLinksDialog
        api={api}
        open={linksOpen}
        onClose={() => setLinksOpen(false)}
        onOpenChat={(id) => {
          setLinksOpen(false);
          select(id);
        }}
      />
      <SettingsDrawer
        store={settings}
        api={api}
        onImported={() => void conversations.search("")}
        open={settingsOpen}
        onClose={() => {
          setSettingsOpen(false);
          void settings.flush();
        }}
        onOpenUsage={() => {
          setSettingsOpen(false);
          void settings.flush();
          navigateTo(USAGE_PATH);
        }}
      />
    </div>
  );
}

/** Files dragged over the chat: ``over`` while they are above it (the drop zone shows), ``attach`` when dropped. */
function useFileDrop(enabled: boolean, attach: (files: File[]) => void) {
  const [over, setOver] = useState(false);
  const depth = useRef(0); // enter and leave fire for every child crossed

  // A file dropped anywhere else (the sidebar, a gap) must not make the browser open it in place of the app.
  useEffect(() => {
    const keep = (event: globalThis.DragEvent) => {
      if (event.dataTransfer?.types.includes("Files")) event.preventDefault();
    };
    window.addEventListener("dragover", keep);
    window.addEventListener("drop", keep);
    return () => {
      window.removeEventListener("dragover", keep);
      window.removeEventListener("drop", keep);
    };
  }, []);
  const carriesFiles = (event: DragEvent) => enabled && event.dataTransfer.types.includes("Files");
  const handlers = {
    onDragEnter: (event: DragEvent) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      depth.current += 1;
      setOver(true);
    },
    onDragOver: (event: DragEvent) => {
      if (!carriesFiles(event)) return;
      event.preventDefault(); // allows the drop
      event.dataTransfer.dropEffect = "copy";
    },
    onDragLeave: (event: DragEvent) => {
      if (!carriesFiles(event)) return;
      depth.current = Math.max(0, depth.current - 1);
      if (depth.current === 0) setOver(false);
    },
    onDrop: (event: DragEvent) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      depth.current = 0;
      setOver(false);
      const files = [...event.dataTransfer.files];
      if (files.length > 0) attach(files);
    },
  };
  return { over, handlers };
}
