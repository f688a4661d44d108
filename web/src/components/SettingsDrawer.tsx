// Settings: model, sampling parameters as sliders limited to the model's ranges, a system prompt with
// named presets, and the theme. Saved to the server as they change.
import { useId, useState, type ReactNode } from "react";
import type { ApiClient } from "../api/client";
import type { ParamName, Theme } from "../api/types";
import { PARAM_NAMES } from "../api/types";
import { PARAM_HINTS, PARAM_LABELS, clamp, formatParam, rangeOf, stepFor } from "../settings/params";
import type { SettingsStore } from "../settings/settingsStore";
import { useStore } from "../lib/store";
import { ApiKeysSection } from "./ApiKeysSection";
import { USAGE_PATH } from "../router";
import { Dialog } from "./Dialog";
import { HistorySection } from "./HistorySection";
import { CloseIcon } from "./icons";

interface Props {
  store: SettingsStore;
  api: ApiClient;
  open: boolean;
  onClose: () => void;
  onOpenUsage: () => void;
  onImported: () => void;
}

const THEMES: { value: Theme; label: string }[] = [
  { value: "light", label: "Light" },
  { value: "dark", label: "Dark" },
  { value: "system", label: "System" },
];

export function SettingsDrawer({ store, api, open, onClose, onOpenUsage, onImported }: Props) {
  return (
    <Dialog open={open} onClose={onClose} className="drawer" labelledBy="settings-title">
      <SettingsBody store={store} api={api} onClose={onClose} onOpenUsage={onOpenUsage}>
        <HistorySection api={api} onImported={onImported} />
      </SettingsBody>
    </Dialog>
  );
}

function SettingsBody({
  store,
  api,
  onClose,
  onOpenUsage,
  children,
}: {
  store: SettingsStore;
  api: ApiClient;
  onClose: () => void;
  onOpenUsage: () => void;
  children: ReactNode;
}) {
  const prefs = useStore(store, (s) => s.prefs);
  const models = useStore(store, (s) => s.models);
  const saveState = useStore(store, (s) => s.saveState);
  const saveError = useStore(store, (s) => s.saveError);
  const loadError = useStore(store, (s) => s.loadError);
  useStore(store, (s) => s.defaultModel);
  const model = store.model;
  const [presetName, setPresetName] = useState("");
  const [chosenPreset, setChosenPreset] = useState("");
  const presets = prefs.presets ?? [];

  return (
    <div className="drawer-content">
      <header className="drawer-header">
        <h2 id="settings-title">Settings</h2>
        <span className="save-state" role="status" aria-live="polite">
          {saveState === "saving" ? "Saving…" : saveState === "saved" ? "Saved" : ""}
        </span>
        <button type="button" className="icon-button" onClick={onClose} aria-label="Close settings">
          <CloseIcon />
        </button>
      </header>
      {loadError && <p className="error-text">{loadError}</p>}
      {saveState === "error" && <p className="error-text" role="alert">Not saved: {saveError}</p>}

      <section className="settings-section">
        <h3 id="model-heading">Model</h3>
        <label htmlFor="settings-model" className="sr-only">
          Model
        </label>
        <select id="settings-model" value={model?.id ?? ""} onChange={(e) => store.update({ model: e.target.value })}>
          {models.map((m) => (
            <option key={m.id} value={m.id}>
              {m.name} ({m.provider})
            </option>
          ))}
        </select>
        {model && <p className="field-hint">Context window: {model.context_window.toLocaleString()} tokens</p>}
      </section>

      <section className="settings-section">
        <h3 id="params-heading">Parameters</h3>
        {PARAM_NAMES.map((name) => (
          <ParamSlider
            key={name}
            name={name}
            value={prefs[name] ?? null}
            store={store}
          />
        ))}
      </section>

      <section className="settings-section">
        <h3 id="system-heading">System prompt</h3>
        <label htmlFor="system-prompt" className="sr-only">
          System prompt
        </label>
        <textarea
          id="system-prompt"
          rows={4}
          maxLength={16000}
          placeholder="How should the assistant behave? (optional)"
          value={prefs.system_prompt ?? ""}
          onChange={(e) => store.update({ system_prompt: e.target.value || null })}
        />
        <div className="preset-row">
          <label htmlFor="preset-pick">Presets</label>
          <select
            id="preset-pick"
            value={chosenPreset}
            onChange={(e) => {
              setChosenPreset(e.target.value);
              if (e.target.value) store.applyPreset(e.target.value);
            }}
          >
            <option value="">{presets.length ? "Choose a preset…" : "No presets yet"}</option>
            {presets.map((p) => (
              <option key={p.name} value={p.name}>
                {p.name}
              </option>
            ))}
          </select>
          <button
            type="button"
            className="secondary-button small"
            disabled={!chosenPreset}
            onClick={() => {
              store.deletePreset(chosenPreset);
              setChosenPreset("");
            }}
          >
            Delete preset
          </button>
        </div>
        <form
          className="preset-row"
          onSubmit={(e) => {
            e.preventDefault();
            store.savePreset(presetName);
            setChosenPreset(presetName.trim());
            setPresetName("");
          }}
        >
          <label htmlFor="preset-name">Save as</label>
          <input
            id="preset-name"
            placeholder="Preset name"
            maxLength={80}
            value={presetName}
            onChange={(e) => setPresetName(e.target.value)}
          />
          <button type="submit" className="secondary-button small" disabled={!presetName.trim()}>
            Save preset
          </button>
        </form>
      </section>

      <section className="settings-section">
        <h3 id="theme-heading">Theme</h3>
        <div className="segmented" role="radiogroup" aria-labelledby="theme-heading">
          {THEMES.map((theme) => (
            <label key={theme.value} className={prefs.theme === theme.value ? "checked" : undefined}>
              <input
                type="radio"
                name="theme"
                value={theme.value}
                checked={prefs.theme === theme.value}
                onChange={() => store.update({ theme: theme.value })}
              />
              {theme.label}
            </label>
          ))}
        </div>
      </section>

      {children}

      <ApiKeysSection api={api} />
      <section className="settings-section">
        <h3>Usage</h3>
        <a
          href={USAGE_PATH}
          className="settings-link"
          onClick={(e) => {
            e.preventDefault();
            onOpenUsage();
          }}
        >
          Tokens used and your budget
        </a>
      </section>
    </div>
  );
}

function ParamSlider({ name, value, store }: { name: ParamName; value: number | null; store: SettingsStore }) {
  const id = useId();
  const range = rangeOf(store.model, name);
  const shown = value === null ? range.default : clamp(name, value, range);
  return (
    <div className="param">
      <div className="param-head">
        <label htmlFor={id}>{PARAM_LABELS[name]}</label>
        <output htmlFor={id} className={value === null ? "param-value default" : "param-value"}>
          {formatParam(name, shown)}
          {value === null && <span className="sr-only"> (model default)</span>}
        </output>
        <button
          type="button"
          className="link-button"
          onClick={() => store.update({ [name]: null })}
          disabled={value === null}
          aria-label={`Reset ${PARAM_LABELS[name]} to the model default`}
        >
          Default
        </button>
      </div>
      <input
        id={id}
        type="range"
        min={range.min}
        max={range.max}
        step={stepFor(name, range)}
        value={shown}
        aria-describedby={`${id}-hint`}
        aria-valuetext={formatParam(name, shown)}
        onChange={(e) => store.update({ [name]: clamp(name, Number(e.target.value), range) })}
      />
      <p id={`${id}-hint`} className="field-hint">
        {PARAM_HINTS[name]} {formatParam(name, range.min)}–{formatParam(name, range.max)}, default{" "}
        {formatParam(name, range.default)}.
      </p>
    </div>
  );
}
