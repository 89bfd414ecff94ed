/**
 * What benchmarks and tests read about the workerd processes they started, from /proc (Linux): which
 * process listens on a socket, its CPU time and its memory. CPU time per request is steadier than
 * throughput on a shared machine (other processes take cores, not cycles from ours).
 */

import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** Linux reports process times in clock ticks of 1/USER_HZ s; USER_HZ is 100 on every Linux ABI. */
const TICKS_PER_SECOND = 100;

function children(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[1]) === process.pid && stat.includes("(workerd)")) pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

/** The workerd process (a child of this one) listening on 127.0.0.1:`port`. */
export function workerdListeningOn(port: number | string): number {
  const hexPort = Number(port).toString(16).toUpperCase().padStart(4, "0");
  const inodes = new Set<string>();
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    // local_address is HEX_IP:HEX_PORT; state 0A is LISTEN.
    if (fields[1]?.endsWith(`:${hexPort}`) && fields[3] === "0A") inodes.add(fields[9] as string);
  }
  for (const pid of children()) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
        if (target.startsWith("socket:[") && inodes.has(target.slice(8, -1))) return pid;
      } catch {
        // closed meanwhile
      }
    }
  }
  throw new Error(`no workerd child of this process listens on port ${port}`);
}

/** User + system CPU time of `pid` so far, in microseconds. */
export function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / TICKS_PER_SECOND;
}

/**
 * Memory of every workerd this process started, in MiB. PSS shares the pages several processes map
 * (the 150 MB workerd binary, V8's snapshot) among them, so a sum over processes means something;
 * RSS counts them once per process.
 */
export function workerdMemory(): { processes: number; pss: number; rss: number } {
  let pss = 0;
  let rss = 0;
  const pids = children();
  for (const pid of pids) {
    try {
      const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
      pss += Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0) / 1024;
      rss += Number(/^Rss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0) / 1024;
    } catch {
      // the process ended while we looked
    }
  }
  return { processes: pids.length, pss, rss };
}
