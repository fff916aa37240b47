/**
 * What the Passage bar shows for each tab the extension runs a session in,
 * kept in `chrome.storage.session` so the bar (an extension page) can follow it.
 *
 * @module
 */

// deno-lint-ignore no-explicit-any
declare const chrome: any;

/** The bar of one tab. */
export interface BarState {
  /** The Passage server that sent the user here. */
  server: string;
  /** What is being read, from where. */
  what: string;
  /** The real origin of the page in the tab, read by the device. */
  origin: string;
  /** The latest progress line. */
  progress: string;
  /** What the user is asked to do while they have control, or null. */
  yourTurn: string | null;
  stopped: boolean;
}

/** Every tab's bar. */
export class BarStates {
  readonly #states = new Map<number, BarState>();

  get(tabId: number): BarState | undefined {
    return this.#states.get(tabId);
  }

  set(tabId: number, state: BarState): void {
    this.#states.set(tabId, state);
    void chrome.storage.session.set({ [`bar:${tabId}`]: state });
  }

  update(tabId: number, change: Partial<BarState>): void {
    const state = this.#states.get(tabId);
    if (state) this.set(tabId, { ...state, ...change });
  }
}
