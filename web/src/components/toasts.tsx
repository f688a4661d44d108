// Short messages for things that failed in the background (a rename, a delete, a copy).
import { Store, useStore } from "../lib/store";

interface Toast {
  id: number;
  text: string;
}

class Toasts extends Store<{ items: readonly Toast[] }> {
  private next = 1;

  show(text: string, ms = 5000): void {
    const toast = { id: this.next++, text };
    this.setState({ items: [...this.state.items, toast].slice(-3) });
    setTimeout(() => this.dismiss(toast.id), ms);
  }

  dismiss(id: number): void {
    this.setState({ items: this.state.items.filter((t) => t.id !== id) });
  }
}

export const toasts = new Toasts({ items: [] });

export function Toaster() {
  const items = useStore(toasts, (s) => s.items);
  return (
    <div className="toaster" role="status" aria-live="polite">
      {items.map((toast) => (
        <div key={toast.id} className="toast">
          <span>{toast.text}</span>
          <button type="button" className="link-button" onClick={() => toasts.dismiss(toast.id)}>
            Dismiss
          </button>
        </div>
      ))}
    </div>
  );
}
