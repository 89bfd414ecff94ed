/**
 * The publisher's instant check, off the main thread so the page never freezes on a large bundle:
 * the same core rules the control Worker runs (`checkBundle`, core/src/pipeline.ts — there is no
 * second rule set), over the dropped files, then the bytes to upload. The server checks again; this
 * only tells the author at once, before any byte leaves the browser.
 */

import { bytesSource, type CheckReport, checkBundle } from "@mini-sites/core";
import { zipSync } from "fflate";
import type { CheckMessage, CheckRequest, CheckResult } from "./check-protocol.ts";

const post = (message: CheckMessage) => (self as unknown as Worker).postMessage(message);

async function bytesOf(file: Blob): Promise<Uint8Array> {
  return new Uint8Array(await file.arrayBuffer());
}

const HOSTED_AS = "index.html";

function namedAs(report: CheckReport, name: string): CheckReport {
  const rename = <T extends { path: string }>(item: T): T =>
    item.path === HOSTED_AS ? { ...item, path: name } : item;
  return {
    ...report,
    errors: report.errors.map(rename),
    findings: report.findings.map(rename),
    accepted: report.accepted.map(rename),
  };
}

async function check(request: CheckRequest): Promise<CheckResult> {
  const onProgress = (p: { filesDone: number; filesTotal: number }) =>
    post({ type: "progress", filesDone: p.filesDone, filesTotal: p.filesTotal });
  let report: CheckReport;
  let upload: Blob;
  let uploadName: string;
  if (request.kind === "files") {
    // A folder is uploaded as one zip (the upload API takes a zip or one .html): zipped here as the
    // files are read, stored without compression when already compressed (images, fonts).
    const contents: Record<string, Uint8Array> = {};
    report = await checkBundle(
      {
        kind: "files",
        files: request.files.map(({ path, file }) => ({
          path,
          size: file.size,
          read: async () => {
            const bytes = await bytesOf(file);
            contents[path] = bytes;
            return bytes;
          },
        })),
      },
      { onProgress, accepted: request.accepted ?? [] },
    );
    // Files the reader refused are not read; those it read go in, under the path the author gave.
    upload = new Blob([zipSync(contents, { level: 6 }) as Uint8Array<ArrayBuffer>], {
      type: "application/zip",
    });
    uploadName = "bundle.zip";
  } else {
    const bytes = await bytesOf(request.file);
    const source = bytesSource(bytes);
    report = await checkBundle(
      request.kind === "zip" ? { kind: "zip", source } : { kind: "html", name: request.file.name, source },
      { onProgress, accepted: request.accepted ?? [] },
    );
    // One .html is hosted as index.html, and the report names it so; the author dropped their own file.
    if (request.kind === "html") report = namedAs(report, request.file.name);
    upload = request.file;
    uploadName = request.file.name;
  }
  return {
    ok: report.ok,
    files: report.files,
    bytes: report.bytes,
    errors: report.errors,
    findings: report.findings,
    accepted: report.accepted,
    ignored: report.ignored,
    externalHosts: report.externalHosts,
    upload,
    uploadName,
  };
}

self.addEventListener("message", (event: MessageEvent<CheckRequest>) => {
  check(event.data).then(
    (result) => post({ type: "done", result }),
    (error: unknown) => post({ type: "failed", message: (error as Error)?.message ?? String(error) }),
  );
});
