// Where the API lives, read from /config.json at start so one build serves any host.
// Empty URLs mean "the origin this page came from".
import type { WebConfig } from "./api/types";

export interface AppConfig {
  apiBaseUrl: string;
  wsUrl: string;
  appName: string;
}

interface Place {
  origin: string;
  protocol: string;
  host: string;
}

export function resolveConfig(raw: Partial<WebConfig> | null, place: Place): AppConfig {
  const apiBaseUrl = (raw?.api_base_url || place.origin).replace(/\/+$/, "");
  const scheme = place.protocol === "https:" ? "wss:" : "ws:";
  return {
    apiBaseUrl,
    wsUrl: raw?.ws_url || `${scheme}//${place.host}/ws`,
    appName: raw?.app_name || "Parley",
  };
}

export async function loadConfig(place: Place = window.location): Promise<AppConfig> {
  try {
    const response = await fetch("/config.json", { cache: "no-store", credentials: "omit" });
    if (response.ok) return resolveConfig((await response.json()) as Partial<WebConfig>, place);
  } catch {
    // No config file (e.g. a static preview): the API is on this origin.
  }
  return resolveConfig(null, place);
}
