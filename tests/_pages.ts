// deno-lint-ignore-file no-explicit-any
/// <reference lib="dom" />
/**
 * Pages as people see them: screenshots at a desktop and a phone size, the
 * horizontal overflow at each, and axe-core's serious and critical findings.
 */
import axe from "axe-core";
import type { Page } from "puppeteer-core";

/** The two sizes every page is looked at. */
export const VIEWPORTS = [
  { width: 1280, height: 800, deviceScaleFactor: 1 },
  { width: 390, height: 844, deviceScaleFactor: 1, isMobile: true, hasTouch: true },
];

/** axe-core's serious and critical violations on the page, one line each. */
export async function axeViolations(page: Page): Promise<string[]> {
  // Evaluated over CDP, which the page's CSP does not govern (a <script> tag would be refused).
  await page.evaluate(axe.source);
  return await page.evaluate(async () => {
    const result = await (globalThis as any).axe.run(document, { resultTypes: ["violations"] });
    return result.violations
      .filter((v: any) => v.impact === "serious" || v.impact === "critical")
      .map((v: any) =>
        `${v.id} (${v.impact}): ${v.help} ×${v.nodes.length} ${
          v.nodes.slice(0, 2).map((n: any) => n.target.join(" ")).join(", ")
        }`
      );
  });
}

/**
 * Screenshots the page at both sizes into `folder` as `{name}-{width}.png`;
 * returns axe's serious findings and any overflow, each naming page and size.
 */
export async function capture(page: Page, folder: string, name: string): Promise<string[]> {
  const problems: string[] = [];
  await Deno.mkdir(folder, { recursive: true });
  for (const viewport of VIEWPORTS) {
    await page.setViewport(viewport);
    await page.screenshot({ path: `${folder}${name}-${viewport.width}.png`, fullPage: true });
    // Against the viewport asked for: a phone's layout viewport grows with what overflows.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth) -
      viewport.width;
    if (overflow > 1) problems.push(`${name} ${viewport.width}: overflows by ${overflow}px`);
    for (const v of await axeViolations(page)) problems.push(`${name} ${viewport.width}: ${v}`);
  }
  await page.setViewport(VIEWPORTS[0]);
  return problems;
}
