import { lstat, readFile } from "node:fs/promises";
import { basename, resolve } from "node:path";
import { readBundle, type SecretFinding, scanBytes } from "@mini-sites/core";
import { asBytes, openBundleInput, UsageError, walkFolder } from "./input.ts";
import { formatBytes, ProgressLine, styleFor, type Terminal } from "./terminal.ts";
import { type CommandOptions, describeProgress } from "./validate.ts";

/** `mini-sites scan`: secrets only, on a folder, a zip, or any single file. Exit 1 when anything is found. */
export async function scanCommand(target: string, options: CommandOptions, term: Terminal): Promise<number> {
  const path = resolve(term.cwd, target);
  const stats = await lstat(path).catch(() => undefined);
  if (stats === undefined) {
    term.stderr.write(`mini-sites scan: ${target}: no such file or folder.\n`);
    return 2;
  }
  const progress = new ProgressLine(term.stderr, options.progress);
  const findings: SecretFinding[] = [];
  let files = 0;
  let bytes = 0;
  try {
    if (stats.isDirectory()) {
      const list = (await walkFolder(path)).filter((f) => !f.symlink);
      const total = list.reduce((sum, f) => sum + f.size, 0);
      for (const file of list) {
        findings.push(...scanBytes(file.path, await file.read()));
        files += 1;
        bytes += file.size;
        progress.update(
          describeProgress({
            filesDone: files,
            filesTotal: list.length,
            bytesDone: bytes,
            bytesTotal: total,
          }),
        );
      }
    } else if (/\.zip$/i.test(path)) {
      const opened = await openBundleInput(path);
      try {
        // The zip is read by the same hardened reader as a publish: a hostile archive is refused, not inflated.
        const report = await readBundle(opened.input, {
          onFile: (entry, content) => {
            findings.push(...scanBytes(entry.path, content));
            files += 1;
            bytes += entry.size;
          },
          onProgress: (p) => progress.update(describeProgress(p)),
        });
        const fatal = report.errors.find((e) =>
          ["INVALID_ZIP", "ZIP_BOMB", "TOO_MANY_FILES", "BUNDLE_TOO_LARGE"].includes(e.code),
        );
        if (fatal !== undefined) {
          progress.clear();
          term.stderr.write(`mini-sites scan: cannot read ${target}: ${fatal.code}: ${fatal.message}\n`);
          return 2;
        }
      } finally {
        await opened.close();
      }
    } else {
      const content = asBytes(await readFile(path));
      findings.push(...scanBytes(basename(path), content));
      files = 1;
      bytes = content.byteLength;
    }
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    term.stderr.write(`mini-sites scan: ${error.message}\n`);
    return 2;
  } finally {
    progress.clear();
  }
  if (options.json) {
    const out = findings.map(({ rule, path, line, column, match }) => ({ rule, path, line, column, match }));
    term.stdout.write(`${JSON.stringify({ files, bytes, findings: out })}\n`);
  } else {
    const style = styleFor(term.stdout, term.env);
    if (findings.length === 0) {
      term.stdout.write(`${style.green("✓")} No secrets found in ${files} files (${formatBytes(bytes)}).\n`);
    } else {
      term.stdout.write(
        `${style.red("✗")} ${findings.length} possible secret${findings.length === 1 ? "" : "s"} in ${target}:\n\n`,
      );
      for (const f of findings)
        term.stdout.write(`  ${f.path}:${f.line}:${f.column}  ${style.red(f.rule)}  ${f.match}\n`);
      term.stdout.write(
        "\nRemove them from the bundle and rotate them: anyone who can view the page could read them.\n",
      );
    }
  }
  return findings.length === 0 ? 0 : 1;
}
