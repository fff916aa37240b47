/**
 * The reference device of Passage: the program that plays the user's phone.
 * It claims a code, runs Debian's Chromium, and carries out the server's
 * commands over the relay socket, handing the browser to the human for
 * `yieldToUser`. Passwords, MFA codes, cookies and session tokens stay in
 * its browser.
 *
 * @example
 * ```ts
 * import { startDevice } from "./mod.ts";
 * await using device = await startDevice({ server: "http://localhost:8000", claimCode: "K7QD2-9XW4M" });
 * await device.ended;
 * ```
 *
 * @module
 */
export { type DeviceHandle, type DeviceOptions, type DeviceStatus } from "./_device.ts";
export { startDevice } from "./_start.ts";
export { DeviceClaimError } from "./_claim.ts";
export { DeviceEndedError } from "./_relay.ts";
export { BrowserLaunchError, findBrowser, launchChromium } from "./_browser.ts";
export { REDACTED, redactUrl } from "@passage/connect/redact";
