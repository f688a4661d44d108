import { LogoIcon } from "./icons";

const SUGGESTIONS = [
  "Explain how a hash map works, with a small example",
  "Write a polite email declining a meeting",
  "Give me a table comparing Python, Go and Rust",
  "Suggest a three-day itinerary for Lisbon",
];

export function EmptyState({ onPick }: { onPick: (text: string) => void }) {
  return (
    <div className="empty-state">
      <LogoIcon size={48} />
      <h1>How can I help you today?</h1>
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
