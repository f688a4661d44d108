import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ModelOut, Preferences } from "../src/api/types";
import { chatParams, clamp, fitToModel, selectModel, stepFor } from "../src/settings/params";
import { SettingsStore } from "../src/settings/settingsStore";

function model(id: string, maxTokens: number, isDefault = false): ModelOut {
  return {
    id,
    name: id,
    provider: "openai",
    context_window: 8192,
    default: isDefault,
    vision: false,
    parameters: {
      temperature: { min: 0, max: 2, default: 1 },
      top_p: { min: 0, max: 1, default: 1 },
      max_tokens: { min: 1, max: maxTokens, default: Math.min(512, maxTokens) },
      frequency_penalty: { min: -2, max: 2, default: 0 },
      presence_penalty: { min: -2, max: 2, default: 0 },
    },
  };
}

const small = model("small", 256, true);
const large = model("large", 4096);

describe("params", () => {
  it("picks the saved model, else the server's default", () => {
    expect(selectModel([small, large], "large", "small")?.id).toBe("large");
    expect(selectModel([small, large], "retired", "small")?.id).toBe("small");
    expect(selectModel([small, large], null, null)?.id).toBe("small");
    expect(selectModel([], "x", null)).toBeNull();
  });

  it("clamps into the range, and rounds integer parameters", () => {
    const range = { min: 1, max: 256, default: 128 };
    expect(clamp("max_tokens", 1000, range)).toBe(256);
    expect(clamp("max_tokens", 12.6, range)).toBe(13);
    expect(clamp("temperature", -1, { min: 0, max: 2, default: 1 })).toBe(0);
    expect(clamp("temperature", 0.70000001, { min: 0, max: 2, default: 1 })).toBe(0.7);
    expect(stepFor("max_tokens", range)).toBe(1);
    expect(stepFor("top_p", { min: 0, max: 1, default: 1 })).toBe(0.01);
  });

  it("sends only what the user set, inside the model's ranges", () => {
    const prefs: Preferences = { theme: "system", temperature: 0.3, max_tokens: 9999, top_p: null, system_prompt: "  Be brief. " };
    expect(chatParams(prefs, small)).toEqual({ model: "small", temperature: 0.3, max_tokens: 256, system_prompt: "Be brief." });
    expect(chatParams({ theme: "dark", system_prompt: "   " }, null)).toEqual({});
  });

  it("fits saved values to a newly picked model", () => {
    expect(fitToModel({ theme: "system", max_tokens: 4000, temperature: 1.5 }, small)).toMatchObject({ max_tokens: 256, temperature: 1.5 });
  });
});

describe("SettingsStore", () => {
  let saved: Preferences[];
  let api: {
    models: ReturnType<typeof vi.fn>;
    getPreferences: ReturnType<typeof vi.fn>;
    putPreferences: ReturnType<typeof vi.fn>;
  };

  beforeEach(() => {
    vi.useFakeTimers();
    saved = [];
    api = {
      models: vi.fn(async () => ({ models: [small, large], default_model: "small" })),
      getPreferences: vi.fn(async () => ({ theme: "dark", presets: [], temperature: 0.2 }) as Preferences),
      putPreferences: vi.fn(async (p: Preferences) => {
        saved.push(structuredClone(p));
        return p;
      }),
    };
  });

  afterEach(() => vi.useRealTimers());

  it("loads models and preferences, and applies the saved theme", async () => {
    const onTheme = vi.fn();
    const store = new SettingsStore(api as never, { onTheme });
    await store.load();
    expect(store.getState().loaded).toBe(true);
    expect(store.model?.id).toBe("small");
    expect(onTheme).toHaveBeenCalledWith("dark");
    expect(store.params()).toEqual({ model: "small", temperature: 0.2 });
  });

  it("saves changes once they settle, not at every slider step", async () => {
    const store = new SettingsStore(api as never, { debounceMs: 400 });
    await store.load();
    for (const t of [0.3, 0.4, 0.5]) store.update({ temperature: t });
    expect(store.getState().saveState).toBe("saving");
    await vi.advanceTimersByTimeAsync(399);
    expect(saved).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(saved).toHaveLength(1);
    expect(saved[0]).toMatchObject({ temperature: 0.5, theme: "dark" });
    expect(store.getState().saveState).toBe("saved");
  });

  it("saves at once on flush", async () => {
    const store = new SettingsStore(api as never);
    await store.load();
    store.update({ system_prompt: "Hi" });
    await store.flush();
    expect(saved).toEqual([expect.objectContaining({ system_prompt: "Hi" })]);
  });

  it("fits the parameters when another model is picked", async () => {
    const store = new SettingsStore(api as never);
    await store.load();
    store.update({ model: "large", max_tokens: 3000 });
    store.update({ model: "small" });
    expect(store.getState().prefs.max_tokens).toBe(256);
    expect(store.params().model).toBe("small");
  });

  it("keeps named system prompt presets", async () => {
    const store = new SettingsStore(api as never);
    await store.load();
    store.update({ system_prompt: "You are a pirate." });
    store.savePreset("  Pirate ");
    store.update({ system_prompt: "You are terse." });
    store.savePreset("Terse");
    store.savePreset("Pirate"); // replaces
    expect(store.getState().prefs.presets?.map((p) => p.name)).toEqual(["Pirate", "Terse"]);
    store.applyPreset("Pirate");
    expect(store.getState().prefs.system_prompt).toBe("You are terse.");
    store.deletePreset("Terse");
    expect(store.getState().prefs.presets?.map((p) => p.name)).toEqual(["Pirate"]);
  });

  it("reports a failed save with the server's message", async () => {
    api.putPreferences.mockRejectedValueOnce(new Error("temperature: too high"));
    const store = new SettingsStore(api as never);
    await store.load();
    store.update({ temperature: 1 });
    await store.flush();
    expect(store.getState()).toMatchObject({ saveState: "error", saveError: "temperature: too high" });
  });
});
