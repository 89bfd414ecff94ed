/**
 * The macro's view (DESIGN §3 Serve): the live site in a nested sandboxed frame on the site's own
 * origin, sized to its content, kept alive past the grant's lifetime, or one clear state saying why
 * there is nothing to show.
 *
 * Trust: messages are taken only from the site frame's own origin AND window (a site can post
 * anything, so a height is clamped and a URL must be http(s) before the router opens it). The grant
 * URL comes only from the control Worker, which decides from the FIT's signed claims.
 *
 * Renewal: a grant lives minutes (the revocation delay); halfway through, the view asks for a grant
 * for the SAME version and loads it in a hidden frame at `/__ms/renew/<grant>` on the site's origin
 * (same cookie partition), which replaces the cookie without touching the running app. If the control
 * Worker answers with another version (the old one may no longer be served), the site reloads onto it.
 */

import { router, view } from "@forge/bridge";
import { useCallback, useEffect, useRef, useState } from "react";
import { readMacroConfig } from "../../src/macro-config.ts";
import { ControlError, callControl, describeError } from "../shared/api.ts";
import {
  describeStep,
  jobInProgress,
  type MacroState,
  MESSAGE_HEIGHT,
  MESSAGE_OPEN,
  MESSAGE_RENEWED,
  type ServeUrl,
  SITE_SANDBOX,
} from "../shared/macro.ts";
import { StateMessage } from "../shared/ui.tsx";

/** A site's document may claim any height; beyond this the frame scrolls inside itself. */
const MAX_FRAME_HEIGHT = 20_000;
const MIN_FRAME_HEIGHT = 80;
/** How often a view waiting for a publish asks for progress. */
const POLL_MS = 1_000;
/** A renew frame that has not confirmed within this time is replaced by a full reload of the site. */
const RENEW_CONFIRM_MS = 10_000;
const RETRY_MS = 5_000;

type Live = {
  readonly kind: "live";
  readonly url: string;
  readonly origin: string;
  readonly version: number;
  readonly expiresAt: number;
};

type ViewState =
  | { readonly kind: "loading" }
  | { readonly kind: "not-published"; readonly copied: boolean; readonly canEdit: boolean }
  | { readonly kind: "provisioning"; readonly step: string; readonly progress: number | null }
  | { readonly kind: "failed"; readonly message: string }
  | { readonly kind: "disabled" }
  | { readonly kind: "trashed" }
  | { readonly kind: "license" }
  | { readonly kind: "no-access"; readonly message: string }
  | { readonly kind: "error"; readonly message: string }
  | Live;

function liveFrom(answer: ServeUrl & { state: "PUBLISHED" }): Live {
  return {
    kind: "live",
    url: answer.url,
    origin: new URL(answer.url).origin,
    version: answer.version,
    expiresAt: Date.parse(answer.expiresAt),
  };
}

function refusal(error: unknown): ViewState {
  if (error instanceof ControlError) {
    if (error.code === "SITE_DISABLED") return { kind: "disabled" };
    if (error.code === "PAGE_TRASHED") return { kind: "trashed" };
    // Before the generic 403: a lapsed license is the whole site's problem, not this user's access.
    if (error.code === "LICENSE_INACTIVE") return { kind: "license" };
    if (error.code === "NO_ACCESS" || error.status === 403 || error.status === 404)
      return { kind: "no-access", message: describeError(error) };
  }
  return { kind: "error", message: describeError(error) };
}

export function MacroView() {
  const [state, setState] = useState<ViewState>({ kind: "loading" });
  const frame = useRef<HTMLIFrameElement>(null);
  const renewFrame = useRef<HTMLIFrameElement>(null);
  const timers = useRef<number[]>([]);
  const later = (ms: number, run: () => void) => {
    timers.current.push(window.setTimeout(run, ms));
  };

  // biome-ignore lint/correctness/useExhaustiveDependencies: `later` only records timers in a ref.
  const load = useCallback(async () => {
    try {
      const context = await view.getContext();
      const macro = await callControl<MacroState>("GET", "/v1/macro/state");
      if (macro.state === "SITE_DISABLED") return setState({ kind: "disabled" });
      if (macro.state === "PAGE_TRASHED") return setState({ kind: "trashed" });
      if (!macro.bound) {
        // A macro whose stored config names a site but which has no binding was copied with its page
        // (DESIGN §3 Copy semantics): say so, rather than "nothing published".
        const copied = readMacroConfig(context.extension.config).siteId !== undefined;
        return setState({ kind: "not-published", copied, canEdit: macro.canEdit });
      }
      if (macro.site?.liveVersion === null || macro.site?.liveVersion === undefined) {
        const job = macro.lastJob;
        if (job !== null && jobInProgress(job)) {
          setState({ kind: "provisioning", step: describeStep(job), progress: job.progress });
          later(POLL_MS, () => void load());
          return;
        }
        if (job?.state === "failed")
          return setState({ kind: "failed", message: job.error?.message ?? "Publishing failed." });
        return setState({ kind: "not-published", copied: false, canEdit: macro.canEdit });
      }
      const answer = await callControl<ServeUrl>("POST", "/v1/macro/serve-url", {});
      if (answer.state !== "PUBLISHED")
        return setState({ kind: "not-published", copied: false, canEdit: macro.canEdit });
      setState(liveFrom(answer));
    } catch (error) {
      setState(refusal(error));
    }
  }, []);

  useEffect(() => {
    void load();
    const pending = timers.current;
    return () => {
      for (const timer of pending) window.clearTimeout(timer);
    };
  }, [load]);

  // Renewal, halfway through each grant's life.
  const live = state.kind === "live" ? state : undefined;
  useEffect(() => {
    if (live === undefined) return;
    let cancelled = false;
    let confirmTimer: number | undefined;
    const renew = async () => {
      if (cancelled) return;
      try {
        const answer = await callControl<ServeUrl>("POST", "/v1/macro/serve-url", { version: live.version });
        if (cancelled) return;
        if (answer.state !== "PUBLISHED") return void load();
        if (answer.version !== live.version || new URL(answer.url).origin !== live.origin) {
          setState(liveFrom(answer));
          return;
        }
        const target = renewFrame.current;
        if (target === null) return;
        target.src = answer.renewUrl;
        // Confirmed by the renew page's message (below); without it, start the site afresh.
        confirmTimer = window.setTimeout(() => {
          if (!cancelled) setState(liveFrom(answer));
        }, RENEW_CONFIRM_MS);
        schedule(Date.parse(answer.expiresAt));
      } catch (error) {
        const next = refusal(error);
        if (next.kind === "error") schedule(Date.now() + 2 * RETRY_MS);
        else setState(next);
      }
    };
    let renewTimer: number | undefined;
    const schedule = (expiresAt: number) => {
      const wait = Math.max(1_000, (expiresAt - Date.now()) / 2);
      window.clearTimeout(renewTimer);
      renewTimer = window.setTimeout(() => void renew(), wait);
    };
    const onMessage = (event: MessageEvent) => {
      if (event.origin !== live.origin) return;
      const data = event.data as { type?: unknown; height?: unknown; url?: unknown } | null;
      if (event.source === renewFrame.current?.contentWindow && data?.type === MESSAGE_RENEWED) {
        window.clearTimeout(confirmTimer);
        return;
      }
      if (event.source !== frame.current?.contentWindow) return;
      if (data?.type === MESSAGE_HEIGHT && typeof data.height === "number" && Number.isFinite(data.height)) {
        const height = Math.min(MAX_FRAME_HEIGHT, Math.max(MIN_FRAME_HEIGHT, Math.ceil(data.height)));
        // CSSOM, not a style attribute: Forge's CSP allows the former only.
        if (frame.current !== null) frame.current.style.height = `${height}px`;
      }
      if (data?.type === MESSAGE_OPEN && typeof data.url === "string") {
        const url = URL.parse(data.url);
        if (url !== null && (url.protocol === "https:" || url.protocol === "http:"))
          void router.open(url.href);
      }
    };
    window.addEventListener("message", onMessage);
    schedule(live.expiresAt);
    return () => {
      cancelled = true;
      window.removeEventListener("message", onMessage);
      window.clearTimeout(renewTimer);
      window.clearTimeout(confirmTimer);
    };
  }, [live, load]);

  switch (state.kind) {
    case "loading":
      return <StateMessage testId="state-loading" title="Loading the mini-site…" />;
    case "not-published":
      return state.copied ? (
        <StateMessage testId="state-copied" title="Not published on this page yet">
          <p>
            This page was copied from another one. Its mini-site stays with the original page; an editor can
            publish one here{state.canEdit ? " — edit the macro to do it." : "."}
          </p>
        </StateMessage>
      ) : (
        <StateMessage testId="state-not-published" title="No mini-site published here yet">
          <p>
            {state.canEdit
              ? "Edit this macro to publish a folder, a zip or an HTML file."
              : "Nothing to show yet."}
          </p>
        </StateMessage>
      );
    case "provisioning":
      return (
        <StateMessage testId="state-provisioning" title="Publishing…">
          <p>{state.step}</p>
          <progress max={100} value={state.progress ?? undefined} aria-label="Publishing progress" />
        </StateMessage>
      );
    case "failed":
      return (
        <StateMessage testId="state-failed" title="Publishing failed" tone="danger">
          <p>{state.message}</p>
        </StateMessage>
      );
    case "disabled":
      return (
        <StateMessage testId="state-disabled" title="This mini-site is disabled" tone="warning">
          <p>An administrator has disabled it. Ask your Confluence administrator if you need it back.</p>
        </StateMessage>
      );
    case "trashed":
      return (
        <StateMessage testId="state-trashed" title="This page is in the trash" tone="warning">
          <p>
            Its mini-site is not shown while the page is in the trash. It comes back if the page is restored.
          </p>
        </StateMessage>
      );
    case "license":
      return (
        <StateMessage testId="state-license" title="Mini-Sites needs an active license" tone="warning">
          <p>
            The Mini-Sites license for this Confluence site is not active, so mini-sites are not shown. A
            Confluence administrator can renew it in the Marketplace; nothing was deleted.
          </p>
        </StateMessage>
      );
    case "no-access":
      return (
        <StateMessage testId="state-no-access" title="You can't see this mini-site" tone="warning">
          <p>{state.message}</p>
        </StateMessage>
      );
    case "error":
      return (
        <StateMessage testId="state-error" title="The mini-site could not be loaded" tone="danger">
          <p>{state.message}</p>
        </StateMessage>
      );
    case "live":
      return (
        <div data-testid="state-live" data-version={state.version}>
          <iframe
            key={state.url}
            ref={frame}
            className="ms-frame"
            title="Mini-site"
            src={state.url}
            sandbox={SITE_SANDBOX}
            data-testid="site-frame"
          />
          <iframe
            ref={renewFrame}
            className="ms-hidden-frame"
            title="Mini-site grant renewal"
            sandbox="allow-scripts allow-same-origin"
            aria-hidden="true"
            tabIndex={-1}
            data-testid="renew-frame"
          />
        </div>
      );
  }
}
