/**
 * The human on the reference device, for login tests: every status the device
 * showed while the human had control, and a way to wait for the next one that
 * says something (a retry's "2 attempts left").
 */
import type { Page } from "puppeteer-core";
import type { DeviceStatus } from "../device/mod.ts";

/** Statuses the device has shown, in order, and waiters for the next matching one. */
export class Turns {
  readonly seen: DeviceStatus[] = [];
  #waiters: Array<{ from: number; match: (s: DeviceStatus) => boolean; resolve: () => void }> = [];

  /** Pass as `startDevice({ onStatus })`. */
  readonly onStatus = (status: DeviceStatus | null): void => {
    if (!status) return;
    this.seen.push(status);
    for (const w of [...this.#waiters]) this.#settle(w);
  };

  /**
   * Resolves once a status matching `match` is shown at index `from` or
   * later (default: any from now on), within `timeoutMs`.
   */
  next(
    match: (s: DeviceStatus) => boolean,
    from = this.seen.length,
    timeoutMs = 30_000,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`no matching status; seen: ${JSON.stringify(this.seen)}`));
      }, timeoutMs);
      const waiter = {
        from,
        match,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      this.#waiters.push(waiter);
      this.#settle(waiter);
    });
  }

  #settle(w: { from: number; match: (s: DeviceStatus) => boolean; resolve: () => void }) {
    if (this.seen.slice(w.from).some(w.match)) {
      this.#waiters = this.#waiters.filter((x) => x !== w);
      w.resolve();
    }
  }
}

/** A status that offers a retry with `left` attempts left. */
export const retryWith = (left: number) => (s: DeviceStatus) =>
  (s.subheading ?? "").includes(`Try again: ${left} attempt${left === 1 ? "" : "s"} left`);

/** The first login status (no retry yet). */
export const firstTurn = (s: DeviceStatus) => !(s.subheading ?? "").includes("Try again");

/** The human types a username and password into the sandbox's login page and submits. */
export async function submitPassword(page: Page, username: string, password: string) {
  await page.waitForSelector("#username", { visible: true });
  await page.type("#username", username);
  await page.type("#password", password);
  await page.click("#submit");
}

/** The human types a verification code and submits. */
export async function submitCode(page: Page, code: string) {
  await page.waitForSelector("#mfa-code", { visible: true });
  await page.type("#mfa-code", code);
  await page.click("#mfa-submit");
}
