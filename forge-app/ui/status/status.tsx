/**
 * The "Service status" macro: the tenant's monitors as a status board — state, latency, uptime over
 * 24 h and 7 days, and a small chart of the recent checks. It reads GET /v1/status/monitors through
 * Forge Remote, so the control Worker checks that the viewer may read this page (with their own token)
 * and answers names and states only, never the monitors' URLs. It refreshes every minute, the
 * shortest monitor interval.
 */

import { useCallback, useEffect, useState } from "react";
import { callControl, describeError } from "../shared/api.ts";
import { StateMessage } from "../shared/ui.tsx";

interface BoardMonitor {
  readonly id: string;
  readonly name: string;
  readonly state: "unknown" | "up" | "down";
  readonly stateChangedAt: string | null;
  readonly latencyMs: number | null;
  readonly uptime: { readonly day: number | null; readonly week: number | null };
  readonly history: readonly {
    readonly at: string;
    readonly ok: boolean;
    readonly latencyMs: number | null;
  }[];
}

const REFRESH_MS = 60_000;
const CHART_WIDTH = 120;
const CHART_HEIGHT = 24;
const SLOTS = 30;

const percent = (share: number | null) =>
  share === null ? "–" : `${(share * 100).toFixed(share === 1 ? 0 : 2)} %`;

/**
 * One bar per recent check: its height is the latency relative to the slowest shown, failed checks
 * are full height in the "down" colour. SVG attributes, not inline styles (Custom UI's CSP).
 */
function HistoryChart(props: { readonly history: BoardMonitor["history"]; readonly name: string }) {
  const shown = props.history.slice(-SLOTS);
  const slowest = Math.max(1, ...shown.map((h) => h.latencyMs ?? 0));
  const width = CHART_WIDTH / SLOTS;
  const failed = shown.filter((h) => !h.ok).length;
  return (
    <svg
      className="ms-chart"
      width={CHART_WIDTH}
      height={CHART_HEIGHT}
      viewBox={`0 0 ${CHART_WIDTH} ${CHART_HEIGHT}`}
      role="img"
      aria-label={`${props.name}: last ${shown.length} checks, ${failed} failed`}
      data-testid="status-chart"
    >
      {shown.map((check, i) => {
        const height = check.ok
          ? Math.max(2, ((check.latencyMs ?? 0) / slowest) * CHART_HEIGHT)
          : CHART_HEIGHT;
        return (
          <rect
            key={check.at}
            className={check.ok ? "ms-bar-up" : "ms-bar-down"}
            x={(SLOTS - shown.length + i) * width}
            y={CHART_HEIGHT - height}
            width={Math.max(1, width - 1)}
            height={height}
          />
        );
      })}
    </svg>
  );
}

export function StatusBoard() {
  const [monitors, setMonitors] = useState<readonly BoardMonitor[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const load = useCallback(async () => {
    try {
      setMonitors((await callControl<{ monitors: BoardMonitor[] }>("GET", "/v1/status/monitors")).monitors);
      setError(undefined);
    } catch (e) {
      setError(describeError(e));
    }
  }, []);
  useEffect(() => {
    void load();
    const timer = setInterval(() => void load(), REFRESH_MS);
    return () => clearInterval(timer);
  }, [load]);

  if (error !== undefined)
    return (
      <div className="ms-root">
        <StateMessage testId="status-error" title="Service status is not available" tone="warning">
          <p>{error}</p>
        </StateMessage>
      </div>
    );
  if (monitors === undefined) return <div className="ms-root" data-testid="status-loading" />;
  if (monitors.length === 0)
    return (
      <div className="ms-root">
        <StateMessage testId="status-empty" title="No monitors yet">
          <p>A Confluence administrator adds them on the Mini-Sites administration page.</p>
        </StateMessage>
      </div>
    );
  return (
    <div className="ms-root" data-testid="status-board">
      <table className="ms-table">
        <thead>
          <tr>
            <th>Service</th>
            <th>State</th>
            <th>Latency</th>
            <th>Uptime 24 h</th>
            <th>Uptime 7 d</th>
            <th>Recent checks</th>
          </tr>
        </thead>
        <tbody>
          {monitors.map((monitor) => (
            <tr key={monitor.id} data-testid="status-monitor">
              <td>{monitor.name}</td>
              <td>
                <span className="ms-state-badge" data-state={monitor.state} data-testid="status-state">
                  {monitor.state}
                </span>
              </td>
              <td>{monitor.latencyMs === null ? "–" : `${monitor.latencyMs} ms`}</td>
              <td>{percent(monitor.uptime.day)}</td>
              <td>{percent(monitor.uptime.week)}</td>
              <td>
                <HistoryChart history={monitor.history} name={monitor.name} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
