// The user's API keys: listed from the server, made (the key itself is held here only until it is dismissed: the
// server shows it once and keeps only its hash) and revoked.
import { ApiError, type ApiClient } from "../api/client";
import type { ApiKeyCreated, ApiKeyOut } from "../api/types";
import { Store } from "../lib/store";

export interface ApiKeysState {
  keys: ApiKeyOut[];
  loading: boolean;
  error: string | null;
  /** The key just made, shown once. */
  created: ApiKeyCreated | null;
  busy: boolean;
}

export class ApiKeysStore extends Store<ApiKeysState> {
  constructor(private readonly api: ApiClient) {
    super({ keys: [], loading: false, error: null, created: null, busy: false });
  }

  async load(): Promise<void> {
    this.setState({ loading: true, error: null });
    try {
      const { keys } = await this.api.listApiKeys();
      this.setState({ keys, loading: false });
    } catch (error) {
      this.setState({ loading: false, error: messageOf(error) });
    }
  }

  async create(name: string, expiresInDays: number | null, saveConversations: boolean): Promise<boolean> {
    this.setState({ busy: true, error: null });
    try {
      const created = await this.api.createApiKey({
        name: name.trim(),
        expires_in_days: expiresInDays,
        save_conversations: saveConversations,
      });
      const { key: _secret, ...listed } = created;
      this.setState({ created, busy: false, keys: [...this.state.keys, listed] });
      return true;
    } catch (error) {
      this.setState({ busy: false, error: messageOf(error) });
      return false;
    }
  }

  dismissCreated(): void {
    this.setState({ created: null });
  }

  async revoke(id: string): Promise<void> {
    this.setState({ busy: true, error: null });
    try {
      await this.api.revokeApiKey(id);
      this.setState({
        busy: false,
        keys: this.state.keys.map((key) => (key.id === id ? { ...key, revoked: true } : key)),
        created: this.state.created?.id === id ? null : this.state.created,
      });
    } catch (error) {
      this.setState({ busy: false, error: messageOf(error) });
    }
  }
}

function messageOf(error: unknown): string {
  return error instanceof ApiError ? error.message : "Something went wrong.";
}
