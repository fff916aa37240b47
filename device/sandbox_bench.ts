/// <reference lib="dom" />
/**
 * What `evaluate`'s safety costs: a fresh permission-less Worker per
 * expression over a scrubbed copy of the document, against parsing and
 * querying the same copy in-process (the baseline, no isolation at all).
 *
 * ```sh
 * deno task bench
 * ```
 */
import { parseHTML } from "linkedom";
import { Sandbox } from "./_sandbox.ts";
import { type CdpNode, snapshotDocument } from "./_snapshot.ts";

const rows = Array.from(
  { length: 500 },
  (_, i) => `<tr><td class="d">2025-02-${(i % 28) + 1}</td><td class="a">${i}.50</td></tr>`,
).join("");
const html =
  `<!DOCTYPE html><html><head><title>Bill</title></head><body><table>${rows}</table></body></html>`;
const expression = "[...document.querySelectorAll('td.a')].map((td) => td.textContent).length";
const sandbox = new Sandbox();
sandbox.warm();

Deno.bench("evaluate baseline: linkedom in-process, no isolation", {
  group: "evaluate",
  baseline: true,
}, () => {
  const { document } = parseHTML(html);
  document.querySelectorAll("td.a").length;
});

Deno.bench(
  "evaluate in a fresh permission-less Worker (warm spare)",
  { group: "evaluate" },
  async () => {
    await sandbox.run(
      { html, url: "https://example.com/bill", expression },
      new AbortController().signal,
    );
  },
);

/** A CDP-shaped tree of the same document, to time the copy itself. */
function tree(): CdpNode {
  let id = 1;
  const text = (value: string): CdpNode => ({
    backendNodeId: id++,
    nodeType: 3,
    nodeName: "#text",
    nodeValue: value,
  });
  const el = (name: string, children: CdpNode[], attributes: string[] = []): CdpNode => ({
    backendNodeId: id++,
    nodeType: 1,
    nodeName: name.toUpperCase(),
    localName: name,
    attributes,
    children,
  });
  const body = el("body", [
    el(
      "table",
      Array.from({ length: 500 }, (_, i) =>
        el("tr", [
          el("td", [text(`2025-02-${(i % 28) + 1}`)], ["class", "d"]),
          el("td", [text(`${i}.50`)], ["class", "a"]),
        ])),
    ),
  ]);
  return {
    backendNodeId: id++,
    nodeType: 9,
    nodeName: "#document",
    children: [el("html", [el("head", []), body])],
  };
}
const root = tree();
const fakeCdp = { send: () => Promise.resolve({ root }) } as unknown as Parameters<
  typeof snapshotDocument
>[0];

Deno.bench(
  "copy baseline: JSON.stringify of the CDP tree",
  { group: "copy", baseline: true },
  () => {
    JSON.stringify(root);
  },
);

Deno.bench("copy: the scrubbed HTML copy of the CDP tree", { group: "copy" }, async () => {
  await snapshotDocument(fakeCdp, new Set(), []);
});

globalThis.addEventListener("unload", () => sandbox.close());
