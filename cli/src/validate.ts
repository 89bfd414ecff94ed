import { resolve } from "node:path";
import { type CheckReport, checkBundle, type Progress, summarizeFindings } from "@mini-sites/core";
import { openBundleInput, UsageError } from "./input.ts";
import { findingsReport } from "./scan.ts";
import { formatBytes, ProgressLine, type Style, styleFor, type Terminal } from "./terminal.ts";

export interface CommandOptions {
  readonly json: boolean;
  readonly progress: boolean;
}

/** `mini-sites validate`: the same read → validate → scan the control Worker runs on publish. */
export async function validateCommand(
  target: string,
  options: CommandOptions,
  term: Terminal,
): Promise<number> {
  let opened: Awaited<ReturnType<typeof openBundleInput>>;
  try {
    opened = await openBundleInput(resolve(term.cwd, target));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    term.stderr.write(`mini-sites validate: ${error.message}\n`);
    return 2;
  }
  const progress = new ProgressLine(term.stderr, options.progress);
  let report: CheckReport;
  try {
    report = await checkBundle(opened.input, { onProgress: (p) => progress.update(describeProgress(p)) });
  } finally {
    progress.clear();
    await opened.close();
  }
  if (options.json) {
    term.stdout.write(`${JSON.stringify(toJson(report))}\n`);
  } else {
    term.stdout.write(humanReport(target, report, styleFor(term.stdout, term.env)));
  }
  return report.ok ? 0 : 1;
}

export function describeProgress(p: Progress): string {
  return `  checking ${p.filesDone}/${p.filesTotal} files · ${formatBytes(p.bytesDone)} of ${formatBytes(p.bytesTotal)}`;
}

/**
 * The `--json` contract: exactly these keys, stable for scripts and agents. `findings` holds both
 * severities (only `block` ones make `ok` false); `fileHash` is what a tenant admin names to accept
 * a finding; `summary` has one entry per rule.
 */
function toJson(report: CheckReport) {
  return {
    ok: report.ok,
    files: report.files.length,
    bytes: report.bytes,
    bundleHash: report.bundleHash,
    errors: report.errors.map(({ code, path, message }) => ({ code, path, message })),
    findings: report.findings.map(({ rule, severity, path, line, column, match, fileHash }) => ({
      rule,
      severity,
      path,
      line,
      column,
      match,
      fileHash,
    })),
    summary: summarizeFindings(report.findings),
  };
}

function humanReport(target: string, report: CheckReport, style: Style): string {
  const lines: string[] = [];
  if (report.ok) {
    lines.push(
      `${style.green("✓")} ${style.bold(target)} can be published: ${report.files.length} files, ${formatBytes(report.bytes)}.`,
      style.dim(`  bundle ${report.bundleHash.slice(0, 16)}`),
    );
  } else {
    const n = report.errors.length;
    lines.push(
      `${style.red("✗")} ${style.bold(target)} cannot be published — ${n} problem${n === 1 ? "" : "s"}:`,
      "",
    );
    for (const error of report.errors) {
      lines.push(`  ${style.red(error.code)}  ${error.path || "(whole bundle)"}`, `    ${error.message}`);
      for (const f of report.findings.filter(
        (f) => error.code === "SECRET_DETECTED" && f.path === error.path && f.severity === "block",
      )) {
        lines.push(style.dim(`      ${f.path}:${f.line}:${f.column}  ${f.rule}  ${f.match}`));
      }
    }
    lines.push("", `Fix these, then run "mini-sites validate ${target}" again.`);
  }
  if (report.findings.length > 0) {
    const warnings = report.findings.filter((f) => f.severity === "warn").length;
    lines.push(
      "",
      `  Secret scan: ${report.findings.length - warnings} blocking, ${warnings} warning${warnings === 1 ? "" : "s"} (warnings do not block a publish)`,
      ...findingsReport(report.findings, style),
    );
  }
  if (report.externalHosts.length > 0) {
    lines.push(
      `  Loads from other hosts: ${report.externalHosts.join(", ")}`,
      style.dim("  (the site's Content-Security-Policy must allow them, or those loads will fail)"),
    );
  }
  if (report.ignored.length > 0) {
    const shown = report.ignored.slice(0, 5).map((i) => `${i.path} (${i.reason})`);
    const more = report.ignored.length > 5 ? ` and ${report.ignored.length - 5} more` : "";
    lines.push(style.dim(`  Left out: ${shown.join(", ")}${more}`));
  }
  return `${lines.join("\n")}\n`;
}
