import type { Theme } from "./api/types";

const KEY = "parley.theme";

/** Show the page in this theme ("system" follows the OS); remembered for the next start. */
export function applyTheme(theme: Theme): void {
  document.documentElement.dataset.theme = theme;
  try {
    localStorage.setItem(KEY, theme);
  } catch {
    // private mode: the server still has it
  }
}

/** The theme used last on this device, applied before the app has loaded the user's preferences. */
export function rememberedTheme(): Theme {
  try {
    const value = localStorage.getItem(KEY);
    if (value === "light" || value === "dark" || value === "system") return value;
  } catch {
    // ignore
  }
  return "system";
}
