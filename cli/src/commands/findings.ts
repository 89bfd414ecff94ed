/**
 * `findings list|accept|withdraw`: the secret-scan findings a tenant admin accepted. A refused publish
 * prints each finding's rule and the file's sha256; accepting exactly that lets those bytes publish
 * (needs `tenant:admin`; audited). Nothing here turns a rule off: the same rule in any other file, or
 * in this file with one byte changed, is refused again.
 */

import type { Command } from "commander";
import { table } from "../terminal.ts";
import { action, type Runner } from "./runner.ts";

interface AcceptedFinding {
  ruleId: string;
  fileHash: string;
  note: string | null;
  acceptedBy: string;
  acceptedAt: string;
}

const findingPath = (rule: string, fileHash: string) =>
  `/v1/tenant/accepted-findings/${encodeURIComponent(rule)}/${encodeURIComponent(fileHash.toLowerCase())}`;

export function registerFindingCommands(program: Command, runner: Runner): void {
  const findings = program
    .command("findings")
    .description("secret-scan findings the tenant accepted (accepting and withdrawing need tenant:admin)");

  findings
    .command("list")
    .description("the accepted findings: rule, file sha256, note, who accepted it and when")
    .option("--json", 'print {"findings":[{"ruleId","fileHash","note","acceptedBy","acceptedAt"}],"max"}')
    .action(
      action(runner, "findings list", async (ctx) => {
        const list = await (await ctx.api()).json<{ findings: AcceptedFinding[]; max: number }>(
          "GET",
          "/v1/tenant/accepted-findings",
        );
        ctx.print(list, () =>
          list.findings.length === 0
            ? "No accepted findings: every secret finding refuses a publish.\n"
            : table(
                ["RULE", "FILE SHA256", "NOTE", "BY", "AT"],
                list.findings.map((f) => [
                  f.ruleId,
                  f.fileHash,
                  f.note ?? "",
                  f.acceptedBy,
                  f.acceptedAt.slice(0, 16).replace("T", " "),
                ]),
                ctx.style,
              ),
        );
        return 0;
      }),
    );

  findings
    .command("accept")
    .description(
      "accept a finding: this rule, in the file with exactly these bytes, no longer refuses a publish",
    )
    .argument("<rule>", "the rule id a refusal names, e.g. github-token")
    .argument("<fileHash>", "the file's sha256 a refusal prints (64 hex characters)")
    .option("--note <text>", "why it is not a secret (shown next to it, audited)")
    .option("--json", 'print {"ruleId","fileHash","note","acceptedBy","acceptedAt"}')
    .action(
      action(
        runner,
        "findings accept",
        async (ctx, rule: string, fileHash: string, flags: { note?: string }) => {
          const accepted = await (await ctx.api()).json<AcceptedFinding>(
            "POST",
            "/v1/tenant/accepted-findings",
            {
              json: {
                ruleId: rule,
                fileHash: fileHash.toLowerCase(),
                ...(flags.note === undefined ? {} : { note: flags.note }),
              },
            },
          );
          ctx.print(
            accepted,
            () =>
              `${ctx.style.green("✓")} Accepted ${accepted.ruleId} in the file with sha256 ${accepted.fileHash}.\n`,
          );
          return 0;
        },
      ),
    );

  findings
    .command("withdraw")
    .description("withdraw an accepted finding: the next publish holding it is refused again")
    .argument("<rule>", "the rule id")
    .argument("<fileHash>", "the file's sha256")
    .option("--json", 'print {"withdrawn"}')
    .action(
      action(runner, "findings withdraw", async (ctx, rule: string, fileHash: string) => {
        const result = await (await ctx.api()).json<{ withdrawn: boolean }>(
          "DELETE",
          findingPath(rule, fileHash),
        );
        ctx.print(result, () =>
          result.withdrawn
            ? `${ctx.style.green("✓")} Withdrawn: ${rule} in ${fileHash.toLowerCase()} refuses a publish again.\n`
            : `Nothing to withdraw: ${rule} in ${fileHash.toLowerCase()} was not accepted.\n`,
        );
        return 0;
      }),
    );
}
