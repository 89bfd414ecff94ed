/**
 * The publisher: the macro's custom config, for page editors (the control Worker checks update
 * permission on every call, with the user's own token — this UI decides nothing).
 *
 * Drop or pick a folder, a zip or one .html → instant check in a Web Worker with the core's own rules
 * → file list, sizes, warnings, typed errors in plain words → upload in chunks with real progress
 * (upload ticket, then `requestRemote` per chunk: a chunk is binary, and the bridge carries binary
 * only as a multipart file part) → the publish job's steps → "It's live" with a preview → versions
 * with one-click rollback. `view.submit` saves a display-only config (title, description, site id).
 */

import { requestRemote, view } from "@forge/bridge";
import { SECRET_RULES } from "@mini-sites/core";
import { type DragEvent, useCallback, useEffect, useState } from "react";
import { type MacroConfig, readMacroConfig } from "../../src/macro-config.ts";
import { ControlError, callControl, describeError, errorFrom } from "../shared/api.ts";
import { checkInWorker } from "../shared/check.ts";
import type { CheckRequest, CheckResult } from "../shared/check-protocol.ts";
import { formatBytes, formatTime } from "../shared/format.ts";
import {
  describeStep,
  jobInProgress,
  type MacroState,
  type ServeUrl,
  SITE_SANDBOX,
  type VersionItem,
} from "../shared/macro.ts";
import { Button, StateMessage } from "../shared/ui.tsx";

/** The remote `requestRemote` reaches (manifest.yml `remotes`). */
const CONTROL_REMOTE = "control";
const POLL_MS = 1_000;

interface Ticket {
  readonly ticket: string;
  readonly siteId: string;
  readonly chunkBytes: number;
  readonly chunks: number;
  readonly uploadPath: string;
}

type Stage =
  | { readonly kind: "idle" }
  | { readonly kind: "checking"; readonly done: number; readonly total: number }
  | { readonly kind: "checked"; readonly result: CheckResult }
  | { readonly kind: "uploading"; readonly result: CheckResult; readonly sent: number }
  | { readonly kind: "publishing"; readonly step: string; readonly progress: number | null }
  | { readonly kind: "live"; readonly preview: string; readonly version: number; readonly siteId: string }
  | { readonly kind: "rejected"; readonly error: ControlError }
  | { readonly kind: "failed"; readonly message: string };

/** What each secret rule finds, in the core's own words ("AWS secret access key, named or …"). */
const SECRET_KINDS = new Map(
  SECRET_RULES.map((rule) => [rule.id, rule.description.split(",")[0] ?? rule.id]),
);

/** Plain words for a secret finding: which file, which line, what kind (the match is redacted). */
export function describeFinding(finding: {
  path?: string;
  file?: string;
  line?: number;
  rule?: string;
  match?: unknown;
  redacted?: unknown;
}) {
  const file = finding.path ?? finding.file ?? "a file";
  const kind =
    (finding.rule === undefined ? undefined : SECRET_KINDS.get(finding.rule)) ??
    `a secret (${finding.rule ?? "unknown kind"})`;
  const shown =
    typeof finding.match === "string"
      ? finding.match
      : typeof finding.redacted === "string"
        ? finding.redacted
        : "";
  return `${file}, line ${finding.line ?? "?"}: ${kind}${shown === "" ? "" : ` (${shown})`}. Anyone who can view the page could read it — remove it and load it from a server instead.`;
}

/** A `warn` finding: published as it is, but the author should know it is there. */
export function describeWarning(finding: Parameters<typeof describeFinding>[0]) {
  const file = finding.path ?? finding.file ?? "a file";
  const kind =
    (finding.rule === undefined ? undefined : SECRET_KINDS.get(finding.rule)) ??
    `a key (${finding.rule ?? "unknown kind"})`;
  return `${file}, line ${finding.line ?? "?"}: ${kind}. Anyone who can view the page can read it — fine for a key meant to be public, otherwise remove it.`;
}

/**
 * The findings the tenant's admins accepted, so this check does not refuse what the server accepts.
 * Unavailable ⇒ none: the check is then only stricter, and the server decides anyway.
 */
async function acceptedFindings(): Promise<{ ruleId: string; fileHash: string }[]> {
  try {
    return (
      await callControl<{ findings: { ruleId: string; fileHash: string }[] }>(
        "GET",
        "/v1/macro/accepted-findings",
      )
    ).findings;
  } catch {
    return [];
  }
}

/** Walks a dropped folder (DataTransfer entries) into files with paths relative to the drop. */
async function filesOfEntry(entry: FileSystemEntry, prefix = ""): Promise<{ path: string; file: File }[]> {
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) =>
      (entry as FileSystemFileEntry).file(resolve, reject),
    );
    return [{ path: prefix + entry.name, file }];
  }
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  const out: { path: string; file: File }[] = [];
  // readEntries answers in batches (≤ 100 in Chromium) until it answers an empty one.
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) =>
      reader.readEntries(resolve, reject),
    );
    if (batch.length === 0) break;
    for (const child of batch) out.push(...(await filesOfEntry(child, `${prefix}${entry.name}/`)));
  }
  return out;
}

/** What was dropped or picked, as one check request, or a sentence saying why it cannot be one. */
export function requestFor(files: readonly { path: string; file: File }[]): CheckRequest | string {
  if (files.length === 0) return "Nothing was dropped.";
  const only = files.length === 1 ? files[0] : undefined;
  if (only !== undefined && !only.path.includes("/")) {
    const name = only.file.name.toLowerCase();
    if (name.endsWith(".zip")) return { kind: "zip", file: only.file };
    if (name.endsWith(".html") || name.endsWith(".htm")) return { kind: "html", file: only.file };
    return "Drop a folder, a .zip or a single .html file.";
  }
  return { kind: "files", files };
}

export function Publisher() {
  const [config, setConfig] = useState<MacroConfig>({});
  const [macro, setMacro] = useState<MacroState | undefined>();
  const [loadError, setLoadError] = useState<string | undefined>();
  const [stage, setStage] = useState<Stage>({ kind: "idle" });
  const [versions, setVersions] = useState<readonly VersionItem[]>([]);
  const [dragging, setDragging] = useState(false);
  const [title, setTitle] = useState("");
  const [description, setDescription] = useState("");
  /** The next version's status feed choice; undefined until the editor touches it (the live one's). */
  const [statusFeed, setStatusFeed] = useState<boolean | undefined>();
  const [notice, setNotice] = useState<string | undefined>();
  // The folder picker attribute is not in React's typings: set on the element when it mounts.
  const folderInput = useCallback(
    (input: HTMLInputElement | null) => input?.setAttribute("webkitdirectory", ""),
    [],
  );

  const refresh = useCallback(async () => {
    const state = await callControl<MacroState>("GET", "/v1/macro/state");
    setMacro(state);
    if (state.bound) {
      const list = await callControl<{ versions: VersionItem[] }>("GET", "/v1/macro/versions");
      setVersions(list.versions);
    } else setVersions([]);
    return state;
  }, []);

  useEffect(() => {
    (async () => {
      const context = await view.getContext();
      const stored = readMacroConfig(context.extension.config);
      setConfig(stored);
      setTitle(stored.title ?? "");
      setDescription(stored.description ?? "");
      await refresh();
    })().catch((error: unknown) => setLoadError(describeError(error)));
  }, [refresh]);

  const check = async (files: readonly { path: string; file: File }[]) => {
    setNotice(undefined);
    const request = requestFor(files);
    if (typeof request === "string") {
      setStage({ kind: "failed", message: request });
      return;
    }
    setStage({ kind: "checking", done: 0, total: files.length });
    try {
      const result = await checkInWorker({ ...request, accepted: await acceptedFindings() }, (done, total) =>
        setStage({ kind: "checking", done, total }),
      );
      setStage({ kind: "checked", result });
    } catch (error) {
      setStage({ kind: "failed", message: `The files could not be checked: ${(error as Error).message}` });
    }
  };

  const onDrop = async (event: DragEvent) => {
    event.preventDefault();
    setDragging(false);
    const items = [...event.dataTransfer.items];
    const entries = items.map((item) => item.webkitGetAsEntry?.()).filter((e): e is FileSystemEntry => !!e);
    const files =
      entries.length > 0
        ? (await Promise.all(entries.map((entry) => filesOfEntry(entry)))).flat()
        : [...event.dataTransfer.files].map((file) => ({ path: file.name, file }));
    await check(files);
  };

  const onPick = async (list: FileList | null) => {
    const files = [...(list ?? [])].map((file) => ({ path: file.webkitRelativePath || file.name, file }));
    await check(files);
  };

  const waitForJob = async (version: number): Promise<void> => {
    for (;;) {
      const state = await refresh();
      const job = state.lastJob;
      if (job !== null && job.version === version && job.state === "failed")
        throw new Error(job.error?.message ?? "Publishing failed.");
      if (state.site?.liveVersion === version) return;
      if (job !== null && jobInProgress(job))
        setStage({ kind: "publishing", step: describeStep(job), progress: job.progress });
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  };

  const showLive = async (version: number) => {
    const answer = await callControl<ServeUrl>("POST", "/v1/macro/serve-url", {});
    if (answer.state === "PUBLISHED")
      setStage({ kind: "live", preview: answer.url, version: answer.version, siteId: answer.siteId });
    else setStage({ kind: "failed", message: `Version ${version} was published but is not being served.` });
  };

  const publish = async (result: CheckResult) => {
    setStage({ kind: "uploading", result, sent: 0 });
    try {
      const name = title.trim() === "" ? undefined : title.trim();
      const ticket = await callControl<Ticket>("POST", "/v1/macro/upload-ticket", {
        size: result.upload.size,
        ...(name === undefined ? {} : { name }),
      });
      let sent = 0;
      for (let n = 1; n <= ticket.chunks; n++) {
        const chunk = result.upload.slice((n - 1) * ticket.chunkBytes, n * ticket.chunkBytes);
        const form = new FormData();
        form.append("file", chunk, `chunk-${n}`);
        const response = await requestRemote(CONTROL_REMOTE, {
          path: `${ticket.uploadPath}/chunks/${n}`,
          method: "PUT",
          body: form,
        });
        if (!response.ok) throw errorFrom(response.status, await response.text());
        sent += chunk.size;
        setStage({ kind: "uploading", result, sent });
      }
      const done = await requestRemote(CONTROL_REMOTE, {
        path: `${ticket.uploadPath}/complete${statusFeed === undefined ? "" : `?statusFeed=${statusFeed}`}`,
        method: "POST",
      });
      const text = await done.text();
      if (!done.ok) throw errorFrom(done.status, text);
      const accepted = JSON.parse(text) as { jobId: string; version: number };
      setStage({ kind: "publishing", step: "Waiting to start", progress: 0 });
      await waitForJob(accepted.version);
      await showLive(accepted.version);
    } catch (error) {
      if (error instanceof ControlError && (error.errors.length > 0 || error.findings.length > 0))
        setStage({ kind: "rejected", error });
      else setStage({ kind: "failed", message: describeError(error) });
    }
  };

  const rollback = async (version: number) => {
    setNotice(undefined);
    try {
      await callControl("POST", "/v1/macro/rollback", { version });
      await waitForJob(version);
      setNotice(`Version ${version} is live again.`);
    } catch (error) {
      setNotice(`Rollback failed: ${describeError(error)}`);
    }
  };

  const forkOriginal = async (siteId: string) => {
    setNotice(undefined);
    try {
      const bound = await callControl<{ siteId: string; job: { version: number } | null }>(
        "POST",
        "/v1/macro/bind",
        { siteId },
      );
      if (bound.job !== null) {
        setStage({ kind: "publishing", step: "Copying the original's mini-site", progress: 0 });
        await waitForJob(bound.job.version);
        await showLive(bound.job.version);
      } else await refresh();
    } catch (error) {
      setNotice(`The original's mini-site could not be copied here: ${describeError(error)}`);
    }
  };

  const save = async () => {
    const siteId = stage.kind === "live" ? stage.siteId : (macro?.site?.id ?? config.siteId);
    const next: MacroConfig = {
      ...(siteId === undefined ? {} : { siteId }),
      ...(title.trim() === "" ? {} : { title: title.trim() }),
      ...(description.trim() === "" ? {} : { description: description.trim() }),
    };
    await view.submit({ config: next });
  };

  if (loadError !== undefined)
    return (
      <div className="ms-root">
        <StateMessage testId="publisher-error" title="The publisher could not start" tone="danger">
          <p>{loadError}</p>
        </StateMessage>
      </div>
    );
  if (macro === undefined) return <div className="ms-root">Loading…</div>;
  if (!macro.canEdit)
    return (
      <div className="ms-root">
        <StateMessage testId="publisher-no-edit" title="You can't publish here">
          <p>Only people who can edit this page can publish its mini-site.</p>
        </StateMessage>
      </div>
    );

  const copiedFrom = !macro.bound && config.siteId !== undefined ? config.siteId : undefined;
  return (
    <div className="ms-root ms-stack" data-testid="publisher">
      <div className="ms-row">
        <label>
          <span className="ms-visually-hidden">Title</span>
          <input
            className="ms-input"
            placeholder="Title of the mini-site"
            value={title}
            onChange={(e) => setTitle(e.target.value)}
            data-testid="title-input"
          />
        </label>
        {macro.site !== null && (
          <span className="ms-subtle">
            Site <span className="ms-mono">{macro.site.id}</span>
            {macro.site.liveVersion !== null && `, version ${macro.site.liveVersion} live`}
          </span>
        )}
      </div>
      <label>
        <span className="ms-visually-hidden">Description</span>
        <textarea
          className="ms-input ms-textarea"
          placeholder="A sentence or two, shown where the live site can't be (PDF export, print)"
          value={description}
          onChange={(e) => setDescription(e.target.value)}
          data-testid="description-input"
        />
      </label>

      {copiedFrom !== undefined && (
        <StateMessage testId="copied-notice" title="This page was copied">
          <p>
            The original page's mini-site stays there. Publish a new one here, or start from a copy of the
            original.
          </p>
          <Button onClick={() => void forkOriginal(copiedFrom)} testId="fork-original">
            Copy the original's mini-site here
          </Button>
        </StateMessage>
      )}

      <label data-testid="status-feed">
        <input
          type="checkbox"
          checked={statusFeed ?? versions.some((v) => v.live && v.statusFeed === true)}
          onChange={(e) => setStatusFeed(e.target.checked)}
          data-testid="status-feed-input"
        />{" "}
        Let this mini-site read the service status — the monitors' names, states and uptime, never their
        addresses — from <span className="ms-mono">/__ms/status.json</span>
      </label>

      <section
        className="ms-drop"
        data-active={dragging}
        data-testid="drop-zone"
        onDragOver={(e) => {
          e.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={(e) => void onDrop(e)}
        aria-label="Drop a folder, a zip or an HTML file"
      >
        <p>Drop a folder, a .zip or a single .html file here</p>
        <div className="ms-row">
          <label className="ms-button">
            Choose a folder
            <input
              ref={folderInput}
              type="file"
              multiple
              className="ms-visually-hidden"
              data-testid="folder-input"
              onChange={(e) => void onPick(e.target.files)}
            />
          </label>
          <label className="ms-button">
            Choose a .zip or .html
            <input
              type="file"
              accept=".zip,.html,.htm"
              className="ms-visually-hidden"
              data-testid="file-input"
              onChange={(e) => void onPick(e.target.files)}
            />
          </label>
        </div>
      </section>

      <StageView stage={stage} onPublish={(result) => void publish(result)} />

      {notice !== undefined && (
        <p role="status" data-testid="notice">
          {notice}
        </p>
      )}

      <div className="ms-row">
        <Button appearance="primary" onClick={() => void save()} testId="save-config">
          Save and close
        </Button>
      </div>

      {versions.length > 0 && (
        <section data-testid="versions">
          <h3>Versions</h3>
          <table className="ms-table">
            <thead>
              <tr>
                <th>Version</th>
                <th>Published</th>
                <th>Files</th>
                <th>Size</th>
                <th>Notes</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {versions.map((v) => (
                <tr key={v.number} data-testid={`version-${v.number}`}>
                  <td>
                    {v.number}{" "}
                    {v.live && (
                      <span className="ms-lozenge" data-tone="success">
                        live
                      </span>
                    )}
                    {v.status === "failed" && (
                      <span className="ms-lozenge" data-tone="danger">
                        failed
                      </span>
                    )}
                  </td>
                  <td>{formatTime(v.createdAt)}</td>
                  <td>{v.fileCount}</td>
                  <td>{formatBytes(v.sizeBytes)}</td>
                  <td>{v.message ?? v.failureCode ?? ""}</td>
                  <td>
                    {!v.live && v.status !== "failed" && v.status !== "staging" && (
                      <Button onClick={() => void rollback(v.number)} testId={`rollback-${v.number}`}>
                        Roll back to this
                      </Button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
    </div>
  );
}

function CheckSummary(props: { readonly result: CheckResult }) {
  const { result } = props;
  return (
    <div className="ms-stack" data-testid="check-result">
      <p>
        {result.files.length} {result.files.length === 1 ? "file" : "files"}, {formatBytes(result.bytes)}
      </p>
      {result.errors.length > 0 && (
        <Problems errors={result.errors} findings={result.findings as unknown as Record<string, unknown>[]} />
      )}
      <Warnings findings={result.findings as unknown as Record<string, unknown>[]} />
      {result.accepted.length > 0 && (
        <StateMessage testId="accepted-findings" title="Accepted by your administrators">
          <ul>
            {result.accepted.map((finding) => (
              <li key={`${finding.rule} ${finding.path}`} data-testid="accepted-finding">
                {finding.path}, line {finding.line}: {finding.rule}, accepted as not a secret for this exact
                file.
              </li>
            ))}
          </ul>
        </StateMessage>
      )}
      {result.externalHosts.length > 0 && (
        <StateMessage testId="external-hosts" title="Loads from other websites" tone="warning">
          <p>
            This site loads from {result.externalHosts.join(", ")}. It works only if your organisation's
            allow-list lets it.
          </p>
        </StateMessage>
      )}
      <table className="ms-table" data-testid="file-list">
        <thead>
          <tr>
            <th>File</th>
            <th>Size</th>
            <th>Type</th>
          </tr>
        </thead>
        <tbody>
          {result.files.map((file) => (
            <tr key={file.path}>
              <td className="ms-mono">{file.path}</td>
              <td>{formatBytes(file.size)}</td>
              <td className="ms-subtle">{file.contentType}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The scanner's `warn` findings (keys meant to be public, ids that sign nothing): shown, never refusing. */
const isWarning = (finding: Record<string, unknown>) => finding.severity === "warn";

function Warnings(props: { readonly findings: readonly Record<string, unknown>[] }) {
  const warnings = props.findings.filter(isWarning);
  if (warnings.length === 0) return null;
  return (
    <StateMessage testId="secret-warnings" title="Check these before publishing" tone="warning">
      <ul className="ms-error-list">
        {warnings.map((finding, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: findings have no id; their order is stable.
          <li key={i} data-testid="secret-warning">
            {describeWarning(finding as Parameters<typeof describeWarning>[0])}
          </li>
        ))}
      </ul>
    </StateMessage>
  );
}

function Problems(props: {
  readonly errors: readonly { code: string; path: string; message: string }[];
  readonly findings: readonly Record<string, unknown>[];
}) {
  const structural = props.errors.filter((e) => e.code !== "SECRET_DETECTED");
  return (
    <StateMessage testId="problems" title="This bundle can't be published" tone="danger">
      <ul className="ms-error-list">
        {props.findings
          .filter((finding) => !isWarning(finding))
          .map((finding, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: findings have no id; their order is stable.
            <li key={i} data-testid="secret-finding">
              {describeFinding(finding as Parameters<typeof describeFinding>[0])}
              {typeof finding.fileHash === "string" && (
                <span className="ms-subtle">
                  {" "}
                  Not a secret? A Confluence administrator can accept it in Mini-Sites administration with the
                  rule <span className="ms-mono">{String(finding.rule)}</span> and the file's SHA-256{" "}
                  <span className="ms-mono" data-testid="finding-file-hash">
                    {finding.fileHash}
                  </span>
                  .
                </span>
              )}
            </li>
          ))}
        {structural.map((error) => (
          <li key={`${error.code}:${error.path}`} data-testid="bundle-error">
            {error.path === "" ? "" : `${error.path}: `}
            {error.message}
          </li>
        ))}
      </ul>
    </StateMessage>
  );
}

function StageView(props: { readonly stage: Stage; readonly onPublish: (result: CheckResult) => void }) {
  const { stage } = props;
  switch (stage.kind) {
    case "idle":
      return null;
    case "checking":
      return (
        <StateMessage testId="checking" title="Checking the files…">
          <progress max={Math.max(1, stage.total)} value={stage.done} />
        </StateMessage>
      );
    case "checked":
      return (
        <div className="ms-stack">
          <CheckSummary result={stage.result} />
          <Button
            appearance="primary"
            disabled={!stage.result.ok}
            onClick={() => props.onPublish(stage.result)}
            testId="publish"
          >
            Publish
          </Button>
        </div>
      );
    case "uploading":
      return (
        <StateMessage testId="uploading" title="Uploading…">
          <p>
            {formatBytes(stage.sent)} of {formatBytes(stage.result.upload.size)}
          </p>
          <progress max={stage.result.upload.size} value={stage.sent} data-testid="upload-progress" />
        </StateMessage>
      );
    case "publishing":
      return (
        <StateMessage testId="publishing" title="Publishing…">
          <p data-testid="publish-step">{stage.step}</p>
          <progress max={100} value={stage.progress ?? undefined} />
        </StateMessage>
      );
    case "live":
      return (
        <StateMessage testId="live" title="It's live" tone="success">
          <p>Version {stage.version} is live on this page. Preview:</p>
          <iframe
            className="ms-frame"
            title="Preview"
            src={stage.preview}
            sandbox={SITE_SANDBOX}
            data-testid="preview-frame"
          />
        </StateMessage>
      );
    case "rejected":
      return (
        <Problems errors={stage.error.errors} findings={stage.error.findings as Record<string, unknown>[]} />
      );
    case "failed":
      return (
        <StateMessage testId="publish-failed" title="Not published" tone="danger">
          <p>{stage.message}</p>
        </StateMessage>
      );
  }
}
