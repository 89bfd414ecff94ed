/** The Macro API's answers as the UI reads them (control/src/routes/macro-*.ts). */

export interface MacroJob {
  readonly id: string;
  readonly kind: string;
  readonly version: number;
  readonly state: "queued" | "running" | "succeeded" | "failed";
  readonly step: string | null;
  readonly progress: number | null;
  readonly error: { readonly code: string; readonly message: string } | null;
  readonly updatedAt: string;
}

export interface MacroState {
  readonly state: "PUBLISHED" | "NOT_PUBLISHED" | "SITE_DISABLED" | "PAGE_TRASHED";
  readonly bound: boolean;
  readonly canEdit: boolean;
  readonly site: {
    readonly id: string;
    readonly name: string;
    readonly enabled: boolean;
    readonly liveVersion: number | null;
  } | null;
  readonly lastJob: MacroJob | null;
}

export type ServeUrl =
  | {
      readonly state: "PUBLISHED";
      readonly siteId: string;
      readonly version: number;
      readonly url: string;
      readonly renewUrl: string;
      readonly expiresAt: string;
    }
  | { readonly state: "NOT_PUBLISHED" };

export interface VersionItem {
  readonly number: number;
  readonly status: string;
  readonly failureCode: string | null;
  readonly message: string | null;
  readonly sizeBytes: number;
  readonly fileCount: number;
  readonly publishedBy: string;
  readonly createdAt: string;
  readonly live: boolean;
  /** May read the tenant's monitor feed at `/__ms/status.json` (chosen when it was published). */
  readonly statusFeed?: boolean;
}

/** The gateway's messages to the view (dispatch/src/inject.ts and gateway.ts; a test keeps them equal). */
export const MESSAGE_HEIGHT = "mini-sites:height";
export const MESSAGE_OPEN = "mini-sites:open";
export const MESSAGE_RENEWED = "mini-sites:renewed";

/** The nested frame's sandbox (DESIGN §3 Serve): same-origin is safe only on the site's own origin. */
export const SITE_SANDBOX = "allow-scripts allow-same-origin allow-forms allow-downloads allow-modals";

export function jobInProgress(job: MacroJob | null): boolean {
  return job !== null && (job.state === "queued" || job.state === "running");
}

/** The job's step in words. */
export function describeStep(job: MacroJob): string {
  const steps: Record<string, string> = {
    prepare: "Preparing the files",
    provision: "Uploading to the hosting platform",
    smoke: "Checking that the site answers",
    flip: "Making it live",
    prune: "Tidying up old versions",
  };
  if (job.state === "queued") return "Waiting to start";
  return (job.step !== null ? steps[job.step] : undefined) ?? job.step ?? "Working";
}
