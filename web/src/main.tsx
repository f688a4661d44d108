import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { loadConfig } from "./config";
import "./styles/app.css";
import { applyTheme, rememberedTheme } from "./theme";

applyTheme(rememberedTheme());

const root = document.getElementById("root");
if (root) {
  const config = await loadConfig();
  document.title = config.appName;
  createRoot(root).render(
    <StrictMode>
      <App config={config} />
    </StrictMode>,
  );
}
