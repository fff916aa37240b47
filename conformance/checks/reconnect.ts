/**
 * Reconnect and resume: a command in flight when the device's connection
 * drops, and commands sent while it is away, are answered once each, and
 * run once each. Only for devices that can drop their connection on demand.
 *
 * @module
 */
import { type Check, expect, show, skip } from "../_check.ts";
import type { Kit } from "../_kit.ts";

function navigationsTo(kit: Kit, fragment: string): number {
  return kit.telemetry.filter((e) => e.kind === "navigation" && e.url.includes(fragment)).length;
}

export const reconnectChecks: Check[] = [
  {
    name: "reconnect: a command in flight survives a dropped connection, run once",
    async run(kit) {
      const device = kit.running;
      if (!device?.dropConnection) skip("the device under test offers no dropConnection");
      const { browser, site } = kit;
      const run = crypto.randomUUID().slice(0, 8);
      await browser.navigate({
        url: `${site.url}/widgets?appearAfter=1500&run=${run}-a`,
        waitUntil: "domcontentloaded",
      });
      // in flight for 1.5 s on the device when the socket drops
      const waiting = browser.waitForSelector({ selector: "#late" }, { timeout: 20_000 });
      device.dropConnection();
      // sent while the device is away: it waits in the session's log
      const [, url] = await Promise.all([waiting, browser.url({ timeout: 20_000 })]);
      expect(url.includes(`run=${run}-a`), `url after the drop ${show(url)}`);
      const late = await browser.textContent({ selector: "#late" });
      expect(late === "late", `#late reads ${show(late)}`);

      device.dropConnection();
      const moved = await browser.navigate({ url: `${site.url}/widgets?run=${run}-b` });
      expect(moved.url.includes(`run=${run}-b`), `navigate after the drop ${show(moved)}`);
      // one more navigation after it: any repeat of the commands above came first
      await browser.navigate({ url: `${site.url}/widgets?run=${run}-c` });
      await kit.nextTelemetry((e) => e.kind === "navigation" && e.url.includes(`${run}-c`), {
        what: "navigation after the drops",
      });
      expect(
        navigationsTo(kit, `${run}-a`) === 1,
        `${navigationsTo(kit, `${run}-a`)} navigations to -a`,
      );
      expect(
        navigationsTo(kit, `${run}-b`) === 1,
        `${navigationsTo(kit, `${run}-b`)} navigations to -b`,
      );

      const session = await kit.session();
      expect(session.status === "active", `the session is ${session.status} after the drops`);
    },
  },
  {
    name: "reconnect: no command is answered twice over the whole run",
    async run(kit) {
      if (!kit.running?.dropConnection) skip("the device under test offers no dropConnection");
      // answered after every command before it
      await kit.browser.url();
      const seen = new Map<string, number>();
      for (const m of kit.recorder.messages) {
        if (m.type === "result") seen.set(m.id, (seen.get(m.id) ?? 0) + 1);
      }
      const twice = [...seen].filter(([, n]) => n > 1).map(([id]) => id);
      expect(seen.size > 0, "no results recorded");
      expect(twice.length === 0, `answered more than once: ${twice.join(", ")}`);
      const seqs = kit.recorder.messages.flatMap((m) => "seq" in m ? [m.seq] : []);
      const repeated = seqs.filter((s, i) => seqs.indexOf(s) !== i);
      expect(repeated.length === 0, `event seq repeated: ${show(repeated.slice(0, 5))}`);
    },
  },
];
