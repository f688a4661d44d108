// The settings drawer's state: models from the server, and the user's preferences, saved back to the
// server (debounced) whenever they change, so they follow the user to any device.
import type { ApiClient } from "../api/client";
import type { ChatParams, ModelOut, Preferences, Preset } from "../api/types";
import { Store } from "../lib/store";
import { chatParams, fitToModel, selectModel } from "./params";

export type SaveState = "idle" | "saving" | "saved" | "error";

export interface SettingsState {
  models: ModelOut[];
  defaultModel: string | null;
  prefs: Preferences;
  loaded: boolean;
  loadError: string | null;
  saveState: SaveState;
  saveError: string | null;
}

type SettingsApi = Pick<ApiClient, "models" | "getPreferences" | "putPreferences">;

export const EMPTY_PREFERENCES: Preferences = { theme: "system", presets: [] };

export class SettingsStore extends Store<SettingsState> {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private saving: Promise<void> = Promise.resolve();

  constructor(
    private readonly api: SettingsApi,
    private readonly options: { debounceMs?: number; onTheme?: (theme: Preferences["theme"]) => void } = {},
  ) {
    super({
      models: [],
      defaultModel: null,
      prefs: EMPTY_PREFERENCES,
      loaded: false,
      loadError: null,
      saveState: "idle",
      saveError: null,
    });
  }

  async load(): Promise<void> {
    try {
      const [models, prefs] = await Promise.all([this.api.models(), this.api.getPreferences()]);
      this.setState({
        models: models.models,
        defaultModel: models.default_model,
        prefs: { ...EMPTY_PREFERENCES, ...prefs },
        loaded: true,
        loadError: null,
      });
      this.options.onTheme?.(this.state.prefs.theme);
    } catch (error) {
      this.setState({ loadError: error instanceof Error ? error.message : String(error) });
    }
  }

  get model(): ModelOut | null {
    return selectModel(this.state.models, this.state.prefs.model, this.state.defaultModel);
  }

  /** The params to send with the next prompt. */
  params(): ChatParams {
    return chatParams(this.state.prefs, this.model);
  }

  update(patch: Partial<Preferences>): void {
    let prefs: Preferences = { ...this.state.prefs, ...patch };
    if (patch.model !== undefined) {
      prefs = fitToModel(prefs, selectModel(this.state.models, prefs.model, this.state.defaultModel));
    }
    this.setState({ prefs });
    if (patch.theme !== undefined) this.options.onTheme?.(prefs.theme);
    this.scheduleSave();
  }

  /** Save the current system prompt under ``name`` (replacing a preset of that name). */
  savePreset(name: string): void {
    const trimmed = name.trim();
    if (!trimmed) return;
    const preset: Preset = { name: trimmed, system_prompt: this.state.prefs.system_prompt ?? "" };
    const others = (this.state.prefs.presets ?? []).filter((p) => p.name !== trimmed);
    this.update({ presets: [...others, preset].sort((a, b) => a.name.localeCompare(b.name)) });
  }

  deletePreset(name: string): void {
    this.update({ presets: (this.state.prefs.presets ?? []).filter((p) => p.name !== name) });
  }

  applyPreset(name: string): void {
    const preset = (this.state.prefs.presets ?? []).find((p) => p.name === name);
    if (preset) this.update({ system_prompt: preset.system_prompt });
  }

  /** Save now rather than after the pause (e.g. when the drawer closes). */
  flush(): Promise<void> {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
      this.saving = this.save();
    }
    return this.saving;
  }

  dispose(): void {
    void this.flush();
  }

  private scheduleSave(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.setState({ saveState: "saving", saveError: null });
    this.timer = setTimeout(() => {
      this.timer = null;
      this.saving = this.save();
    }, this.options.debounceMs ?? 400);
  }

  private async save(): Promise<void> {
    const prefs = this.state.prefs;
    try {
      await this.api.putPreferences(prefs);
      if (this.timer === null && this.state.prefs === prefs) this.setState({ saveState: "saved" });
    } catch (error) {
      this.setState({ saveState: "error", saveError: error instanceof Error ? error.message : String(error) });
    }
  }
}
