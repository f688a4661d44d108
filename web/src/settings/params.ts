// Model parameters: the ranges each model accepts, and the params sent with a prompt.
import type { ChatParams, ModelOut, ParamName, Preferences, RangeOut } from "../api/types";
import { PARAM_NAMES } from "../api/types";

export const PARAM_LABELS: Record<ParamName, string> = {
  temperature: "Temperature",
  top_p: "Top P",
  max_tokens: "Max tokens",
  frequency_penalty: "Frequency penalty",
  presence_penalty: "Presence penalty",
};

export const PARAM_HINTS: Record<ParamName, string> = {
  temperature: "Higher is more varied, lower more focused.",
  top_p: "Only sample from the most likely tokens adding up to this probability.",
  max_tokens: "The longest answer, in tokens.",
  frequency_penalty: "Discourage repeating the same words.",
  presence_penalty: "Encourage moving on to new topics.",
};

const FALLBACK: Record<ParamName, RangeOut> = {
  temperature: { min: 0, max: 2, default: 1 },
  top_p: { min: 0, max: 1, default: 1 },
  max_tokens: { min: 1, max: 4096, default: 1024 },
  frequency_penalty: { min: -2, max: 2, default: 0 },
  presence_penalty: { min: -2, max: 2, default: 0 },
};

/** The model to use: the saved one if the server still offers it, else the server's default. */
export function selectModel(models: readonly ModelOut[], saved: string | null | undefined, fallback: string | null): ModelOut | null {
  return (
    models.find((m) => m.id === saved) ?? models.find((m) => m.id === fallback) ?? models.find((m) => m.default) ?? models[0] ?? null
  );
}

export function rangeOf(model: ModelOut | null, name: ParamName): RangeOut {
  return model?.parameters[name] ?? FALLBACK[name];
}

export function isInteger(name: ParamName): boolean {
  return name === "max_tokens";
}

export function stepFor(name: ParamName, range: RangeOut): number {
  if (isInteger(name)) return 1;
  return range.max - range.min > 1 ? 0.05 : 0.01;
}

/** ``value`` moved into the range (and onto whole numbers for integer parameters). */
export function clamp(name: ParamName, value: number, range: RangeOut): number {
  const inside = Math.min(range.max, Math.max(range.min, value));
  return isInteger(name) ? Math.round(inside) : Math.round(inside * 1000) / 1000;
}

export function formatParam(name: ParamName, value: number): string {
  return isInteger(name) ? String(Math.round(value)) : value.toFixed(2);
}

/** Preferences with every set parameter moved inside ``model``'s ranges (after picking another model). */
export function fitToModel(prefs: Preferences, model: ModelOut | null): Preferences {
  const fitted: Preferences = { ...prefs };
  for (const name of PARAM_NAMES) {
    const value = prefs[name];
    if (value !== null && value !== undefined) fitted[name] = clamp(name, value, rangeOf(model, name));
  }
  return fitted;
}

/** What goes with a prompt: unset parameters are left out, so the server uses the model's defaults. */
export function chatParams(prefs: Preferences, model: ModelOut | null): ChatParams {
  const params: ChatParams = {};
  if (model) params.model = model.id;
  for (const name of PARAM_NAMES) {
    const value = prefs[name];
    if (value !== null && value !== undefined) params[name] = clamp(name, value, rangeOf(model, name));
  }
  const system = prefs.system_prompt?.trim();
  if (system) params.system_prompt = system;
  return params;
}
