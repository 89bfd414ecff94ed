/**
 * The few Workers-only globals the dispatch Worker uses, declared over the web-standard lib
 * (ES2023 + WebWorker) that the core is written and typechecked against. Shapes follow
 * @cloudflare/workers-types 5.20261103.1 (the subset we call).
 *
 * Why not @cloudflare/workers-types as a whole: its TextEncoder/TextDecoder typings (`encode()` →
 * `Uint8Array<ArrayBufferLike>`; `TextDecoder` options with `fatal` and `ignoreBOM` both required)
 * reject the core's correct code, and the dispatch program typechecks the core it imports.
 */

interface Fetcher {
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
}

/** A Workers-for-Platforms dispatch namespace binding. `get()` never throws for a missing script. */
interface DispatchNamespace {
  get(
    name: string,
    args?: Record<string, unknown>,
    options?: { limits?: { cpuMs?: number; subRequests?: number } },
  ): Fetcher;
}

interface ExecutionContext {
  waitUntil(promise: Promise<unknown>): void;
  passThroughOnException(): void;
}

interface ExportedHandler<Env = unknown> {
  fetch?(request: Request, env: Env, ctx: ExecutionContext): Response | Promise<Response>;
}

interface HTMLRewriterContentOptions {
  html?: boolean;
}

interface HTMLRewriterElement {
  readonly tagName: string;
  prepend(content: string, options?: HTMLRewriterContentOptions): HTMLRewriterElement;
  append(content: string, options?: HTMLRewriterContentOptions): HTMLRewriterElement;
}

interface HTMLRewriterDocumentEnd {
  append(content: string, options?: HTMLRewriterContentOptions): HTMLRewriterDocumentEnd;
}

interface HTMLRewriterElementContentHandlers {
  element?(element: HTMLRewriterElement): void | Promise<void>;
}

interface HTMLRewriterDocumentContentHandlers {
  end?(end: HTMLRewriterDocumentEnd): void | Promise<void>;
}

declare class HTMLRewriter {
  on(selector: string, handlers: HTMLRewriterElementContentHandlers): HTMLRewriter;
  onDocument(handlers: HTMLRewriterDocumentContentHandlers): HTMLRewriter;
  transform(response: Response): Response;
}
