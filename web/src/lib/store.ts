import { useSyncExternalStore } from "react";

/** A small observable state holder: plain classes own the logic, components subscribe with useStore. */
export class Store<S extends object> {
  private readonly listeners = new Set<() => void>();

  constructor(protected state: S) {}

  readonly getState = (): S => this.state;

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  protected setState(patch: Partial<S>): void {
    this.state = { ...this.state, ...patch };
    for (const listener of [...this.listeners]) listener();
  }
}

/** Re-renders when the selected value changes; select must return a stored value, not a new object. */
export function useStore<S extends object, T>(store: Store<S>, select: (state: S) => T): T {
  return useSyncExternalStore(store.subscribe, () => select(store.getState()));
}

/** A Store for one value that anyone may set (connection state, toasts). */
export class ValueStore<T extends object> extends Store<T> {
  set(patch: Partial<T>): void {
    this.setState(patch);
  }
}
