/**
 * The admin page (`confluence:globalSettings`): the tenant's name and support link (set by the app at
 * registration, changeable here), the tenant's sites (state, versions, size; disable,
 * enable, delete), the sites' CSP allow-lists, the secret-scan findings the tenant accepted, quotas and
 * usage, API tokens (created — shown once —, listed, revoked) and the audit log with its verification. Every call carries the admin page's FIT;
 * the control Worker lets it through only for a user Confluence calls an administrator, and never
 * hands it a grant or a site's bytes (docs/security.md §4). Each section loads on its own, so one
 * unavailable endpoint shows its own typed error and the rest of the page still works.
 */

import { formatStatusRange, parseStatusRange, type StatusRange } from "@mini-sites/core";
import { useCallback, useEffect, useState } from "react";
import { ControlError, callControl, describeError } from "../shared/api.ts";
import { formatBytes, formatTime } from "../shared/format.ts";
import type { VersionItem } from "../shared/macro.ts";
import { Button, StateMessage } from "../shared/ui.tsx";

interface Site {
  readonly id: string;
  readonly name: string;
  readonly enabled: boolean;
  readonly liveVersion: number | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

interface Token {
  readonly id: string;
  readonly displayPrefix: string;
  readonly label: string;
  readonly scopes: readonly string[];
  readonly createdAt: string;
  readonly lastUsedAt: string | null;
  readonly revokedAt: string | null;
}

interface AuditEntry {
  readonly seq: number;
  readonly at: string;
  readonly actor: string;
  readonly action: string;
  readonly target: string;
}

interface AuditPage {
  readonly entries: readonly AuditEntry[];
  readonly verification: { readonly ok: boolean; readonly rows?: number; readonly reason?: string } | null;
}

interface TenantSettings {
  readonly cdnAllowList: readonly string[];
  readonly connectAllowList: readonly string[];
  /** Set by the app at registration, or by an admin; shown as the page's heading. */
  readonly displayName: string | null;
  /** https only (the control Worker checks it), so it is safe as a link target. */
  readonly supportUrl: string | null;
  readonly updatedBy: string | null;
  readonly updatedAt: string | null;
}

interface TenantUsage {
  readonly sites: { readonly count: number; readonly max: number };
  readonly storedBytes: { readonly used: number; readonly max: number };
  readonly publishes: { readonly inWindow: number; readonly max: number; readonly windowSeconds: number };
}

interface AcceptedFinding {
  readonly ruleId: string;
  readonly fileHash: string;
  readonly note: string | null;
  readonly acceptedBy: string;
  readonly acceptedAt: string;
}

interface Monitor {
  readonly id: string;
  readonly name: string;
  readonly url: string;
  readonly method: "GET" | "HEAD";
  readonly expectedStatus: StatusRange;
  readonly timeoutSeconds: number;
  readonly intervalSeconds: number;
  readonly state: "unknown" | "up" | "down";
  readonly stateChangedAt: string | null;
  readonly lastCheck: { readonly latencyMs: number | null; readonly error: string | null } | null;
  readonly uptime: { readonly day: number | null; readonly week: number | null };
}

const SCOPES = ["sites:read", "sites:write", "tokens:manage", "tenant:admin"] as const;

/** Loads one section; its error is the section's own. */
function useSection<T>(load: () => Promise<T>) {
  const [value, setValue] = useState<T | undefined>();
  const [error, setError] = useState<string | undefined>();
  const reload = useCallback(async () => {
    try {
      setValue(await load());
      setError(undefined);
    } catch (e) {
      setError(describeError(e));
    }
  }, [load]);
  useEffect(() => {
    void reload();
  }, [reload]);
  return { value, error, reload };
}

function Section(props: {
  readonly id: string;
  readonly title: string;
  readonly error?: string;
  readonly children: React.ReactNode;
}) {
  return (
    <section className="ms-section" data-testid={`section-${props.id}`} aria-labelledby={`h-${props.id}`}>
      <h2 id={`h-${props.id}`}>{props.title}</h2>
      {props.error !== undefined ? (
        <StateMessage testId={`section-${props.id}-error`} title="Not available" tone="danger">
          <p>{props.error}</p>
        </StateMessage>
      ) : (
        props.children
      )}
    </section>
  );
}

export function AdminPage() {
  const whoami = useSection(
    useCallback(
      () => callControl<{ tenant: { id: string; cloudId: string }; actor: string }>("GET", "/v1/whoami"),
      [],
    ),
  );
  const settings = useSection(
    useCallback(() => callControl<TenantSettings>("GET", "/v1/tenant/settings"), []),
  );
  if (whoami.error !== undefined)
    return (
      <div className="ms-root">
        <StateMessage testId="admin-denied" title="Mini-Sites administration" tone="warning">
          <p>{whoami.error}</p>
        </StateMessage>
      </div>
    );
  const branding = settings.value;
  return (
    <div className="ms-root" data-testid="admin">
      <h1 data-testid="admin-heading">{branding?.displayName ?? "Mini-Sites"}</h1>
      {whoami.value !== undefined && (
        <p className="ms-subtle">
          Tenant <span className="ms-mono">{whoami.value.tenant.id}</span>
          {branding?.supportUrl != null && (
            <>
              {" · "}
              <a href={branding.supportUrl} target="_blank" rel="noreferrer" data-testid="support-link">
                Support
              </a>
            </>
          )}
        </p>
      )}
      <SitesSection />
      <BrandingSection settings={settings} />
      <AllowListsSection />
      <AcceptedFindingsSection />
      <MonitorsSection />
      <UsageSection />
      <TokensSection />
      <AuditSection />
    </div>
  );
}

function SitesSection() {
  const sites = useSection(
    useCallback(() => callControl<{ sites: Site[] }>("GET", "/v1/sites?limit=100"), []),
  );
  const [notice, setNotice] = useState<string | undefined>();
  const act = async (label: string, run: () => Promise<unknown>) => {
    try {
      await run();
      setNotice(label);
    } catch (error) {
      setNotice(describeError(error));
    }
    await sites.reload();
  };
  return (
    <Section id="sites" title="Sites" error={sites.error}>
      {notice !== undefined && <p role="status">{notice}</p>}
      {sites.value?.sites.length === 0 && <p>No sites yet.</p>}
      <table className="ms-table">
        <thead>
          <tr>
            <th>Site</th>
            <th>State</th>
            <th>Live version</th>
            <th>Size</th>
            <th>Updated</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {sites.value?.sites.map((site) => (
            <SiteRow
              key={site.id}
              site={site}
              onToggle={() =>
                void act(`${site.name} ${site.enabled ? "disabled" : "enabled"}.`, () =>
                  callControl("POST", `/v1/sites/${site.id}/${site.enabled ? "disable" : "enable"}`),
                )
              }
              onDelete={() =>
                void act(`${site.name} deleted.`, () => callControl("DELETE", `/v1/sites/${site.id}`))
              }
            />
          ))}
        </tbody>
      </table>
    </Section>
  );
}

function SiteRow(props: {
  readonly site: Site;
  readonly onToggle: () => void;
  readonly onDelete: () => void;
}) {
  const { site } = props;
  const [versions, setVersions] = useState<readonly VersionItem[] | undefined>();
  const [open, setOpen] = useState(false);
  const [confirming, setConfirming] = useState(false);
  useEffect(() => {
    callControl<{ versions: VersionItem[] }>("GET", `/v1/sites/${site.id}/versions?limit=20`).then(
      (list) => setVersions(list.versions),
      () => setVersions([]),
    );
  }, [site.id]);
  const live = versions?.find((v) => v.live);
  return (
    <>
      <tr data-testid={`site-${site.id}`}>
        <td>
          {site.name}
          <br />
          <span className="ms-mono ms-subtle">{site.id}</span>
        </td>
        <td>
          <span
            className="ms-lozenge"
            data-tone={site.enabled ? "success" : "danger"}
            data-testid="site-state"
          >
            {site.enabled ? "enabled" : "disabled"}
          </span>
        </td>
        <td>{site.liveVersion ?? "—"}</td>
        <td>{live === undefined ? "—" : formatBytes(live.sizeBytes)}</td>
        <td>{formatTime(site.updatedAt)}</td>
        <td>
          <div className="ms-row">
            <Button onClick={() => setOpen(!open)}>
              {open ? "Hide versions" : `Versions (${versions?.length ?? "…"})`}
            </Button>
            <Button
              appearance={site.enabled ? "danger" : "default"}
              onClick={props.onToggle}
              testId="toggle-site"
            >
              {site.enabled ? "Disable" : "Enable"}
            </Button>
            {confirming ? (
              <Button appearance="danger" onClick={props.onDelete} testId="confirm-delete">
                Delete for good
              </Button>
            ) : (
              <Button onClick={() => setConfirming(true)}>Delete…</Button>
            )}
          </div>
        </td>
      </tr>
      {open && (
        <tr>
          <td colSpan={6}>
            <table className="ms-table">
              <tbody>
                {versions?.map((v) => (
                  <tr key={v.number}>
                    <td>v{v.number}</td>
                    <td>{v.status}</td>
                    <td>{v.fileCount} files</td>
                    <td>{formatBytes(v.sizeBytes)}</td>
                    <td>{formatTime(v.createdAt)}</td>
                    <td className="ms-mono">{v.publishedBy}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </td>
        </tr>
      )}
    </>
  );
}

function BrandingSection(props: {
  readonly settings: { value?: TenantSettings; error?: string; reload: () => Promise<void> };
}) {
  const { settings } = props;
  const [name, setName] = useState("");
  const [support, setSupport] = useState("");
  const [notice, setNotice] = useState<string | undefined>();
  useEffect(() => {
    if (settings.value === undefined) return;
    setName(settings.value.displayName ?? "");
    setSupport(settings.value.supportUrl ?? "");
  }, [settings.value]);
  const save = async () => {
    const body: { displayName?: string; supportUrl?: string } = {};
    if (name.trim() !== "") body.displayName = name;
    if (support.trim() !== "") body.supportUrl = support;
    try {
      await callControl("PUT", "/v1/tenant/settings", body);
      setNotice("Saved.");
      await settings.reload();
    } catch (error) {
      setNotice(describeError(error));
    }
  };
  return (
    <Section id="branding" title="Name and support link" error={settings.error}>
      <p className="ms-subtle">
        Shown at the top of this page. The app sets them when it is installed; what you save here stays until
        you change it.
      </p>
      <div className="ms-row">
        <label>
          Display name
          <input
            className="ms-input"
            value={name}
            maxLength={80}
            onChange={(e) => setName(e.target.value)}
            data-testid="display-name"
          />
        </label>
        <label>
          Support link (https)
          <input
            className="ms-input"
            value={support}
            onChange={(e) => setSupport(e.target.value)}
            data-testid="support-url"
          />
        </label>
      </div>
      <Button appearance="primary" onClick={() => void save()} testId="save-branding">
        Save name and link
      </Button>
      {notice !== undefined && (
        <p role="status" data-testid="branding-notice">
          {notice}
        </p>
      )}
    </Section>
  );
}

/** `json.cdnAllowList.1` → which list and which entry a refusal names. */
function issueTarget(path: string): { list: "cdnAllowList" | "connectAllowList"; index: number } | undefined {
  const match = /^json\.(cdnAllowList|connectAllowList)\.([0-9]+)$/.exec(path);
  if (match === null) return undefined;
  return { list: match[1] as "cdnAllowList" | "connectAllowList", index: Number(match[2]) };
}

const LIST_NAMES = { cdnAllowList: "CDN allow-list", connectAllowList: "Network allow-list" } as const;

function AllowListsSection() {
  const settings = useSection(
    useCallback(() => callControl<TenantSettings>("GET", "/v1/tenant/settings"), []),
  );
  const [cdn, setCdn] = useState("");
  const [connect, setConnect] = useState("");
  const [notice, setNotice] = useState<string | undefined>();
  const [problems, setProblems] = useState<readonly string[]>([]);
  useEffect(() => {
    if (settings.value === undefined) return;
    setCdn(settings.value.cdnAllowList.join("\n"));
    setConnect(settings.value.connectAllowList.join("\n"));
  }, [settings.value]);
  // One source per line; blank lines are ignored, so entry N is the N-th non-blank line.
  const entries = (text: string) =>
    text
      .split("\n")
      .map((s) => s.trim())
      .filter((s) => s !== "");
  const save = async () => {
    const body = { cdnAllowList: entries(cdn), connectAllowList: entries(connect) };
    try {
      await callControl("PUT", "/v1/tenant/settings", body);
      setProblems([]);
      setNotice("Saved. Every site of this Confluence site gets these lists within two minutes.");
      await settings.reload();
    } catch (error) {
      const named =
        error instanceof ControlError
          ? error.issues.flatMap((issue) => {
              const target = issueTarget(issue.path);
              if (target === undefined) return [];
              const source = body[target.list][target.index];
              return [
                `${LIST_NAMES[target.list]}${source === undefined ? "" : `, "${source}"`}: ${issue.message}`,
              ];
            })
          : [];
      setProblems(named);
      setNotice(named.length > 0 ? "Not saved: fix these entries." : describeError(error));
    }
  };
  return (
    <Section id="allow-lists" title="Allowed websites" error={settings.error}>
      <p className="ms-subtle">
        Where sites may load scripts, styles, images and fonts from (CDN list, on top of jsDelivr, unpkg,
        cdnjs and Google Fonts) and send requests to (network list). One https:// source per line, e.g.
        https://cdn.example.com or https://*.example.com.
      </p>
      <div className="ms-row">
        <label>
          CDN allow-list
          <textarea
            className="ms-input ms-textarea"
            value={cdn}
            onChange={(e) => setCdn(e.target.value)}
            data-testid="cdn-allow-list"
          />
        </label>
        <label>
          Network allow-list
          <textarea
            className="ms-input ms-textarea"
            value={connect}
            onChange={(e) => setConnect(e.target.value)}
            data-testid="connect-allow-list"
          />
        </label>
      </div>
      <Button appearance="primary" onClick={() => void save()} testId="save-allow-lists">
        Save allow-lists
      </Button>
      {notice !== undefined && (
        <p role="status" data-testid="allow-lists-notice">
          {notice}
        </p>
      )}
      {problems.length > 0 && (
        <ul className="ms-error-list" data-testid="allow-list-problems">
          {problems.map((problem) => (
            <li key={problem}>{problem}</li>
          ))}
        </ul>
      )}
      {settings.value?.updatedAt != null && (
        <p className="ms-subtle">
          Last changed {formatTime(settings.value.updatedAt)} by{" "}
          <span className="ms-mono">{settings.value.updatedBy}</span>
        </p>
      )}
    </Section>
  );
}

function UsageSection() {
  const usage = useSection(useCallback(() => callControl<TenantUsage>("GET", "/v1/tenant/usage"), []));
  const u = usage.value;
  return (
    <Section id="usage" title="Usage and quotas" error={usage.error}>
      {u !== undefined && (
        <table className="ms-table">
          <tbody>
            <tr>
              <th>Sites</th>
              <td>
                {u.sites.count} of {u.sites.max}
                <progress max={u.sites.max} value={u.sites.count} />
              </td>
            </tr>
            <tr>
              <th>Stored</th>
              <td>
                {formatBytes(u.storedBytes.used)} of {formatBytes(u.storedBytes.max)}
                <progress max={u.storedBytes.max} value={u.storedBytes.used} />
              </td>
            </tr>
            <tr>
              <th>Publishes</th>
              <td>
                {u.publishes.inWindow} of {u.publishes.max} in the last{" "}
                {Math.round(u.publishes.windowSeconds / 60)} minutes
              </td>
            </tr>
          </tbody>
        </table>
      )}
    </Section>
  );
}

/**
 * Secret-scan findings accepted as not secret: a rule in the file with exactly these bytes (a refused
 * publish shows both). Never a rule as a whole: another file, or this one changed, is refused again.
 */
function AcceptedFindingsSection() {
  const findings = useSection(
    useCallback(
      () => callControl<{ findings: AcceptedFinding[]; max: number }>("GET", "/v1/tenant/accepted-findings"),
      [],
    ),
  );
  const [ruleId, setRuleId] = useState("");
  const [fileHash, setFileHash] = useState("");
  const [note, setNote] = useState("");
  const [notice, setNotice] = useState<string | undefined>();
  const accept = async () => {
    try {
      await callControl("POST", "/v1/tenant/accepted-findings", {
        ruleId: ruleId.trim(),
        fileHash: fileHash.trim().toLowerCase(),
        ...(note.trim() === "" ? {} : { note: note.trim() }),
      });
      setRuleId("");
      setFileHash("");
      setNote("");
      setNotice(undefined);
      await findings.reload();
    } catch (error) {
      setNotice(describeError(error));
    }
  };
  const withdraw = async (finding: AcceptedFinding) => {
    try {
      await callControl("DELETE", `/v1/tenant/accepted-findings/${finding.ruleId}/${finding.fileHash}`);
      setNotice(undefined);
      await findings.reload();
    } catch (error) {
      setNotice(describeError(error));
    }
  };
  return (
    <Section id="accepted-findings" title="Accepted secret-scan findings" error={findings.error}>
      <p className="ms-subtle">
        A publish is refused when a file holds what looks like a secret. If it is not one (an example from
        documentation, a test value), accept that finding here with the rule and the file's SHA-256 the
        refusal shows. It applies to that exact file only: any change to it, or the same value in another
        file, is refused again.
      </p>
      <div className="ms-row">
        <input
          className="ms-input"
          placeholder="Rule (e.g. github-token)"
          value={ruleId}
          onChange={(e) => setRuleId(e.target.value)}
          data-testid="finding-rule"
        />
        <input
          className="ms-input ms-mono"
          placeholder="File SHA-256"
          value={fileHash}
          onChange={(e) => setFileHash(e.target.value)}
          data-testid="finding-hash"
        />
        <input
          className="ms-input"
          placeholder="Why it is not a secret"
          value={note}
          onChange={(e) => setNote(e.target.value)}
          data-testid="finding-note"
        />
        <Button
          appearance="primary"
          disabled={ruleId.trim() === "" || fileHash.trim() === ""}
          onClick={() => void accept()}
          testId="accept-finding"
        >
          Accept
        </Button>
      </div>
      {notice !== undefined && (
        <p role="status" data-testid="accepted-findings-notice">
          {notice}
        </p>
      )}
      {findings.value !== undefined && findings.value.findings.length === 0 ? (
        <p className="ms-subtle" data-testid="no-accepted-findings">
          None: every secret finding refuses a publish.
        </p>
      ) : (
        <table className="ms-table">
          <thead>
            <tr>
              <th>Rule</th>
              <th>File SHA-256</th>
              <th>Note</th>
              <th>Accepted</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {findings.value?.findings.map((finding) => (
              <tr key={`${finding.ruleId} ${finding.fileHash}`} data-testid="accepted-finding">
                <td>{finding.ruleId}</td>
                <td className="ms-mono" title={finding.fileHash}>
                  {finding.fileHash.slice(0, 16)}…
                </td>
                <td>{finding.note ?? ""}</td>
                <td>{formatTime(finding.acceptedAt)}</td>
                <td>
                  <Button onClick={() => void withdraw(finding)} testId="withdraw-finding">
                    Withdraw
                  </Button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Section>
  );
}

const percent = (share: number | null) =>
  share === null ? "–" : `${(share * 100).toFixed(share === 1 ? 0 : 2)} %`;

/**
 * The tenant's monitors (DESIGN §3): health checks of its services; state changes reach Confluence as
 * signed reports. The server refuses URLs that are not https or point at private addresses, and says why.
 */
function MonitorsSection() {
  const monitors = useSection(
    useCallback(() => callControl<{ monitors: Monitor[]; max: number }>("GET", "/v1/monitors"), []),
  );
  const [name, setName] = useState("");
  const [url, setUrl] = useState("");
  const [minutes, setMinutes] = useState("5");
  const [method, setMethod] = useState<"GET" | "HEAD">("GET");
  const [expected, setExpected] = useState("200-399");
  const [timeout, setTimeoutSeconds] = useState("10");
  const [notice, setNotice] = useState<string | undefined>();
  const expectedStatus = parseStatusRange(expected);
  const add = async () => {
    try {
      await callControl("POST", "/v1/monitors", {
        name: name.trim(),
        url: url.trim(),
        method,
        expectedStatus,
        timeoutSeconds: Math.round(Number(timeout)),
        intervalSeconds: Math.round(Number(minutes) * 60),
      });
      setName("");
      setUrl("");
      setNotice(undefined);
      await monitors.reload();
    } catch (error) {
      setNotice(describeError(error));
    }
  };
  const remove = async (monitor: Monitor) => {
    try {
      await callControl("DELETE", `/v1/monitors/${monitor.id}`);
      setNotice(undefined);
      await monitors.reload();
    } catch (error) {
      setNotice(describeError(error));
    }
  };
  return (
    <Section id="monitors" title="Monitors" error={monitors.error}>
      <p className="ms-subtle">
        Health checks of your services, every few minutes. Changes (up, down) are reported to Confluence over
        a channel signed with this site's own key. Only public https addresses can be checked.
      </p>
      <div className="ms-row">
        <input
          className="ms-input"
          placeholder="Name"
          value={name}
          onChange={(e) => setName(e.target.value)}
          data-testid="monitor-name"
        />
        <input
          className="ms-input"
          placeholder="https://status.example.com/health"
          value={url}
          onChange={(e) => setUrl(e.target.value)}
          data-testid="monitor-url"
        />
        <input
          className="ms-input"
          type="number"
          min={1}
          aria-label="Check every (minutes)"
          value={minutes}
          onChange={(e) => setMinutes(e.target.value)}
          data-testid="monitor-interval"
        />
        <select
          className="ms-input"
          aria-label="Method"
          value={method}
          onChange={(e) => setMethod(e.target.value === "HEAD" ? "HEAD" : "GET")}
          data-testid="monitor-method"
        >
          <option value="GET">GET</option>
          <option value="HEAD">HEAD</option>
        </select>
        <input
          className="ms-input"
          aria-label="Statuses that count as up (one, or a range like 200-399)"
          aria-invalid={expectedStatus === undefined}
          value={expected}
          onChange={(e) => setExpected(e.target.value)}
          data-testid="monitor-expected"
        />
        <input
          className="ms-input"
          type="number"
          min={1}
          max={30}
          aria-label="Timeout (seconds)"
          value={timeout}
          onChange={(e) => setTimeoutSeconds(e.target.value)}
          data-testid="monitor-timeout"
        />
        <Button
          appearance="primary"
          disabled={
            name.trim() === "" ||
            url.trim() === "" ||
            !(Number(minutes) >= 1) ||
            expectedStatus === undefined ||
            !(Number(timeout) >= 1)
          }
          onClick={() => void add()}
          testId="add-monitor"
        >
          Add
        </Button>
      </div>
      {notice !== undefined && (
        <p role="status" data-testid="monitors-notice">
          {notice}
        </p>
      )}
      {monitors.value !== undefined && monitors.value.monitors.length === 0 ? (
        <p className="ms-subtle" data-testid="no-monitors">
          No monitors yet.
        </p>
      ) : (
        <table className="ms-table">
          <thead>
            <tr>
              <th>Name</th>
              <th>State</th>
              <th>Latency</th>
              <th>Uptime 24 h</th>
              <th>Uptime 7 d</th>
              <th>URL</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {monitors.value?.monitors.map((monitor) => (
              <tr key={monitor.id} data-testid="monitor">
                <td>{monitor.name}</td>
                <td data-testid="monitor-state">{monitor.state}</td>
                <td>{monitor.lastCheck?.latencyMs == null ? "–" : `${monitor.lastCheck.latencyMs} ms`}</td>
                <td>{percent(monitor.uptime.day)}</td>
                <td>{percent(monitor.uptime.week)}</td>
                <td className="ms-mono">
                  {monitor.method} {monitor.url} · up on {formatStatusRange(monitor.expectedStatus)} within{" "}
                  {monitor.timeoutSeconds} s
                </td>
                <td>
                  <Button onClick={() => void remove(monitor)} testId="remove-monitor">
                    Remove
                  </Button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Section>
  );
}

function TokensSection() {
  const tokens = useSection(
    useCallback(() => callControl<{ tokens: Token[] }>("GET", "/v1/tokens?limit=100"), []),
  );
  const [label, setLabel] = useState("");
  const [scopes, setScopes] = useState<readonly string[]>(["sites:read", "sites:write"]);
  const [created, setCreated] = useState<string | undefined>();
  const [notice, setNotice] = useState<string | undefined>();
  const create = async () => {
    try {
      const answer = await callControl<{ token: string }>("POST", "/v1/tokens", {
        label: label.trim(),
        scopes,
      });
      setCreated(answer.token);
      setLabel("");
      setNotice(undefined);
      await tokens.reload();
    } catch (error) {
      setNotice(describeError(error));
    }
  };
  const revoke = async (id: string) => {
    try {
      await callControl("DELETE", `/v1/tokens/${id}`);
      await tokens.reload();
    } catch (error) {
      setNotice(describeError(error));
    }
  };
  return (
    <Section id="tokens" title="API tokens" error={tokens.error}>
      <div className="ms-row">
        <input
          className="ms-input"
          placeholder="What is it for? (e.g. CI deploy)"
          value={label}
          onChange={(e) => setLabel(e.target.value)}
          data-testid="token-label"
        />
        {SCOPES.map((scope) => (
          <label key={scope}>
            <input
              type="checkbox"
              checked={scopes.includes(scope)}
              onChange={(e) =>
                setScopes(e.target.checked ? [...scopes, scope] : scopes.filter((s) => s !== scope))
              }
            />{" "}
            {scope}
          </label>
        ))}
        <Button
          appearance="primary"
          disabled={label.trim() === "" || scopes.length === 0}
          onClick={() => void create()}
          testId="create-token"
        >
          Create token
        </Button>
      </div>
      {created !== undefined && (
        <StateMessage testId="token-created" title="Copy this token now" tone="success">
          <p>It is shown only once; it cannot be shown again.</p>
          <p className="ms-mono" data-testid="token-value">
            {created}
          </p>
          <Button onClick={() => setCreated(undefined)}>Done</Button>
        </StateMessage>
      )}
      {notice !== undefined && <p role="status">{notice}</p>}
      <table className="ms-table">
        <thead>
          <tr>
            <th>Label</th>
            <th>Token</th>
            <th>Scopes</th>
            <th>Created</th>
            <th>Last used</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {tokens.value?.tokens.map((token) => (
            <tr key={token.id} data-testid={`token-${token.id}`}>
              <td>{token.label}</td>
              <td className="ms-mono">{token.displayPrefix}…</td>
              <td>{token.scopes.join(", ")}</td>
              <td>{formatTime(token.createdAt)}</td>
              <td>{formatTime(token.lastUsedAt)}</td>
              <td>
                {token.revokedAt === null ? (
                  <Button onClick={() => void revoke(token.id)}>Revoke</Button>
                ) : (
                  <span className="ms-lozenge">revoked</span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Section>
  );
}

function AuditSection() {
  const audit = useSection(
    useCallback(() => callControl<AuditPage>("GET", "/v1/audit?limit=50&verify=true"), []),
  );
  const verification = audit.value?.verification;
  return (
    <Section id="audit" title="Audit log" error={audit.error}>
      {verification != null && (
        <StateMessage
          testId="audit-verification"
          title={verification.ok ? "The audit log verifies" : "The audit log does NOT verify"}
          tone={verification.ok ? "success" : "danger"}
        >
          <p>
            {verification.ok
              ? `${verification.rows ?? 0} entries checked: none was changed, removed or reordered.`
              : (verification.reason ?? "An entry was changed, removed or reordered.")}
          </p>
        </StateMessage>
      )}
      <table className="ms-table">
        <thead>
          <tr>
            <th>#</th>
            <th>When</th>
            <th>Who</th>
            <th>What</th>
            <th>On</th>
          </tr>
        </thead>
        <tbody>
          {audit.value?.entries.map((entry) => (
            <tr key={entry.seq}>
              <td>{entry.seq}</td>
              <td>{formatTime(entry.at)}</td>
              <td className="ms-mono">{entry.actor}</td>
              <td>{entry.action}</td>
              <td className="ms-mono">{entry.target}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Section>
  );
}
