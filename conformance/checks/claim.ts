/**
 * The claim and the welcome: the device claims the session's code, opens
 * its socket, and the server holds the session as active with the device
 * connected.
 *
 * @module
 */
import { type Check, expect } from "../_check.ts";

/** The first check: every other one needs the device connected. */
export const claimCheck: Check = {
  name: "claim: the device claims the code and the server welcomes it",
  async run(kit) {
    kit.running = await kit.device.start({
      url: kit.claim.url,
      code: kit.claim.code,
      server: kit.server.url,
      allowPrivateOrigins: [kit.site.url],
    });
    await kit.recorder.waitFor(
      (m) => m.type === "session" && m.status === "active" && m.device === "connected",
      kit.connectTimeoutMs,
      "the device connecting",
    );
    const session = await kit.session();
    expect(session.status === "active", `the session is ${session.status}, not active`);
    expect(session.device === "connected", `the session's device is ${session.device}`);
    expect(session.claimCode === null, "the claim code is still offered after the claim");
  },
};
