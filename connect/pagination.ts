/**
 * `PageRequest`: what every list method returns. Await it for one page, or
 * iterate it with `for await` for every item of every page, following
 * `nextCursor`.
 *
 * @module
 */
import type { Page } from "./types.ts";

/**
 * A list request: a promise of its first page (sent at once) that is also an
 * async iterable of every item, page after page; each further page is
 * fetched when the previous one has been consumed.
 *
 * @example
 * ```ts
 * import { Passage } from "@passage/connect";
 * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
 * const first = await passage.links.list({ limit: 10 }); // one page
 * for await (const link of passage.links.list({ limit: 100 })) { // every link
 *   if (link.status === "complete") console.log(link.id);
 * }
 * ```
 */
export class PageRequest<T> extends Promise<Page<T>> implements AsyncIterable<T> {
  readonly #fetchPage: (cursor: string | undefined) => Promise<Page<T>>;

  /** `then`, `catch` and `finally` make plain promises. */
  static override get [Symbol.species](): PromiseConstructor {
    return Promise;
  }

  /**
   * Fetches the first page with `fetchPage` (given `undefined`; later pages
   * get the previous page's `nextCursor`). The list methods build one for you.
   *
   * @example
   * ```ts
   * import { PageRequest } from "@passage/connect";
   * const pages = new PageRequest<number>(async (cursor) =>
   *   cursor === undefined
   *     ? { object: "list", data: [1, 2], hasMore: true, nextCursor: "2" }
   *     : { object: "list", data: [3], hasMore: false, nextCursor: null }
   * );
   * for await (const n of pages) console.log(n); // 1, 2, 3
   * ```
   */
  constructor(fetchPage: (cursor: string | undefined) => Promise<Page<T>>) {
    super((resolve, reject) => fetchPage(undefined).then(resolve, reject));
    this.#fetchPage = fetchPage;
  }

  /**
   * Every item of every page, in order; the next page is fetched when this
   * one is used up, so breaking out early fetches no more.
   *
   * @example
   * ```ts
   * import { Passage } from "@passage/connect";
   * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
   * const failed = [];
   * for await (const link of passage.links.list()) {
   *   if (link.status === "failed") failed.push(link.id);
   * }
   * ```
   */
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    let page: Page<T> = await this;
    while (true) {
      yield* page.data;
      if (!page.hasMore || !page.nextCursor) return;
      page = await this.#fetchPage(page.nextCursor);
    }
  }
}
