/**
 * Product and lifecycle events, delivered as Forge delivers them (developer.atlassian.com/platform/
 * forge/remote/sending-product-events and …/remote/essentials, "Remote contract"):
 *   - a `trigger` (or `preUninstall`) with an `endpoint`: POST of the event itself as JSON to the
 *     remote's baseUrl + the endpoint's `route.path`, `authorization: Bearer <FIT>` — a FIT with the
 *     installation and no user and no page — and the trace headers; 5 s to answer; a failure (no
 *     answer, or not 2xx) is retried up to 4 times with backoff;
 *   - a `trigger` with a `function`: the app's function runs in the local runtime (functions.ts),
 *     `handler(event, context)`, retried the same way when it throws;
 *   - a `scheduledTrigger` with an `endpoint` (`runScheduled`): the same POST with the trigger's
 *     context as its body, and — when the endpoint enables `auth.appSystemToken` — the app's own
 *     Atlassian API token in `x-forge-oauth-system`. The host runs each at its interval.
 * Deliveries run after the change that caused them and one at a time, in order; `settled()` resolves
 * when every delivery so far has finished, and `log` keeps each outcome for the host page and tests.
 */

import { randomBytes } from "node:crypto";
import { type ForgeManifest, type ForgeModule, moduleByKey, modulesOf } from "./app.ts";
import { signFit } from "./fit.ts";
import type { ForgeFunctions } from "./functions.ts";
import { type ForgeInstallation, fitClaimsFor } from "./installation.ts";
import type { FitSigner } from "./signer.ts";

/** Forge's limits for events sent to a remote (the "Remote contract" table). */
export const EVENT_TIMEOUT_MS = 5_000;
export const EVENT_RETRIES = 4;
/** The stand-in's backoff between attempts (Forge's own schedule is not documented; it only grows). */
const RETRY_BACKOFF_MS = [250, 500, 1_000, 2_000];

export interface DeliveryRecord {
  readonly eventType: string;
  readonly installationId: string;
  /** The trigger or preUninstall module that received it. */
  readonly module: string;
  /** `POST <path>` on the remote, or `function <key>`. */
  readonly target: string;
  readonly attempts: number;
  /** The last answer's status (0: no answer in time, or the function threw). */
  readonly status: number;
  readonly ok: boolean;
  /** The remote's answer (parsed JSON when it was JSON), or the function's error message. */
  readonly answer: unknown;
  readonly at: number;
}

export interface EventDeliveryOptions {
  readonly manifest: ForgeManifest;
  readonly signer: FitSigner;
  readonly functions: ForgeFunctions;
  readonly log?: (line: string) => void;
  /** Overrides the backoff (tests). */
  readonly backoffMs?: readonly number[];
  /** The app's system token for an installation (`x-forge-oauth-system`), from the Atlassian stand-in. */
  readonly systemToken?: (installation: ForgeInstallation) => string;
}

/** Forge's scheduledTrigger intervals, in ms. */
export const SCHEDULE_INTERVAL_MS = {
  fiveMinute: 5 * 60_000,
  hour: 60 * 60_000,
  day: 24 * 60 * 60_000,
  week: 7 * 24 * 60 * 60_000,
} as const;

/** The pseudo event type of scheduled triggers in the delivery log. */
export const SCHEDULED = "scheduled";

export class EventDelivery {
  readonly log: DeliveryRecord[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private readonly options: EventDeliveryOptions;

  constructor(options: EventDeliveryOptions) {
    this.options = options;
  }

  /** The modules that receive `eventType`: triggers subscribed to it, or `preUninstall` for "preUninstall". */
  receivers(eventType: string): readonly ForgeModule[] {
    if (eventType === PRE_UNINSTALL) return modulesOf(this.options.manifest, "preUninstall");
    return modulesOf(this.options.manifest, "trigger").filter((t) => (t.events ?? []).includes(eventType));
  }

  /** Queues `event` for every receiver of `eventType`; resolves with the records once delivered. */
  deliver(
    installation: ForgeInstallation,
    eventType: string,
    event: Record<string, unknown>,
  ): Promise<DeliveryRecord[]> {
    const run = this.queue.then(async () => {
      const records: DeliveryRecord[] = [];
      // Every product and lifecycle event names its type in its payload; preUninstall's has none.
      const body = eventType === PRE_UNINSTALL ? event : { ...event, eventType };
      for (const module of this.receivers(eventType)) {
        const record = await this.deliverTo(module, installation, eventType, body);
        this.log.push(record);
        records.push(record);
        if (!record.ok)
          this.options.log?.(
            `Forge event ${eventType} to ${record.target} failed after ${record.attempts} attempts (${record.status})`,
          );
      }
      return records;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** The scheduledTrigger modules of the app. */
  scheduledTriggers(): readonly ForgeModule[] {
    return modulesOf(this.options.manifest, "scheduledTrigger");
  }

  /** Runs one scheduledTrigger for an installation now, queued after earlier deliveries. */
  runScheduled(installation: ForgeInstallation, triggerKey: string): Promise<DeliveryRecord> {
    const module = moduleByKey(this.options.manifest, "scheduledTrigger", triggerKey);
    if (module === undefined)
      return Promise.reject(new RangeError(`manifest.yml has no scheduledTrigger ${triggerKey}`));
    const run = this.queue.then(async () => {
      const body = { context: { cloudId: installation.cloudId, moduleKey: module.key } };
      const record = await this.deliverTo(module, installation, SCHEDULED, body);
      this.log.push(record);
      if (!record.ok)
        this.options.log?.(
          `Forge scheduled trigger ${module.key} to ${record.target} failed (${record.status})`,
        );
      return record;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Resolves when every delivery queued so far has finished. */
  settled(): Promise<void> {
    return this.queue.then(() => undefined);
  }

  private async deliverTo(
    module: ForgeModule,
    installation: ForgeInstallation,
    eventType: string,
    event: Record<string, unknown>,
  ): Promise<DeliveryRecord> {
    const backoff = this.options.backoffMs ?? RETRY_BACKOFF_MS;
    const attempt = this.attemptFor(module, installation, event);
    let last: { status: number; ok: boolean; answer: unknown } = { status: 0, ok: false, answer: null };
    let attempts = 0;
    for (let i = 0; i <= EVENT_RETRIES; i++) {
      attempts = i + 1;
      last = await attempt.run();
      if (last.ok) break;
      if (i < EVENT_RETRIES) await sleep(backoff[i] ?? backoff.at(-1) ?? 0);
    }
    return {
      eventType,
      installationId: installation.installationId,
      module: module.key,
      target: attempt.target,
      attempts,
      ...last,
      at: Date.now(),
    };
  }

  private attemptFor(module: ForgeModule, installation: ForgeInstallation, event: Record<string, unknown>) {
    const { manifest, signer, functions } = this.options;
    if (module.endpoint !== undefined) {
      const endpoint = moduleByKey(manifest, "endpoint", module.endpoint);
      const remote = manifest.remotes?.find((r) => r.key === endpoint?.remote);
      const path = endpoint?.route?.path ?? "/";
      if (endpoint === undefined || remote === undefined)
        throw new Error(`manifest.yml: ${module.key} names endpoint ${module.endpoint}, which has no remote`);
      const url = remote.baseUrl.replace(/\/+$/, "") + (path.startsWith("/") ? path : `/${path}`);
      const withSystemToken = endpoint.auth?.appSystemToken?.enabled === true;
      if (withSystemToken && this.options.systemToken === undefined)
        throw new Error(`${endpoint.key} asks for the app's system token, and this host has none to give`);
      return {
        target: `POST ${path}`,
        run: async () => {
          const fit = await signFit(signer, fitClaimsFor(installation, { context: null }));
          try {
            const response = await fetch(url, {
              method: "POST",
              headers: {
                authorization: `Bearer ${fit}`,
                "content-type": "application/json",
                "x-b3-traceid": randomBytes(8).toString("hex"),
                "x-b3-spanid": randomBytes(8).toString("hex"),
                ...(withSystemToken
                  ? { "x-forge-oauth-system": this.options.systemToken?.(installation) ?? "" }
                  : {}),
              },
              body: JSON.stringify(event),
              redirect: "manual",
              signal: AbortSignal.timeout(EVENT_TIMEOUT_MS),
            });
            const text = await response.text();
            let answer: unknown = text;
            try {
              answer = text === "" ? null : JSON.parse(text);
            } catch {
              // not JSON: kept as text
            }
            return { status: response.status, ok: response.ok, answer };
          } catch (error) {
            return { status: 0, ok: false, answer: (error as Error).message };
          }
        },
      };
    }
    const functionKey = module.function;
    if (functionKey === undefined) throw new Error(`manifest.yml: ${module.key} has no endpoint or function`);
    return {
      target: `function ${functionKey}`,
      run: async () => {
        try {
          const answer = await functions.invoke(installation, functionKey, event, {
            installContext: `ari:cloud:confluence::site/${installation.cloudId}`,
          });
          return { status: 200, ok: true, answer: answer ?? null };
        } catch (error) {
          return { status: 0, ok: false, answer: (error as Error).message };
        }
      },
    };
  }
}

/** The pseudo event type of the `preUninstall` module (Forge calls it before removing the app). */
export const PRE_UNINSTALL = "preUninstall";

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
