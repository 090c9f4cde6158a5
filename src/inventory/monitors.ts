// The recurring monitors of osha's OpenStack agents, one per check depth (OCF_CHECK_LEVEL), and
// how the inventory changes their intervals: `resources.monitors` for every service,
// `resources.overrides.<service>.ops.monitors` for one. Shared by the schema (validation) and
// the model (src/cluster/build.ts), so both read the same effective intervals.

export const MONITOR_DEPTHS = [0, 10, 20] as const;
export type MonitorDepth = (typeof MONITOR_DEPTHS)[number];
export type DepthKey = 'depth0' | 'depth10' | 'depth20';

export const depthKey = (d: MonitorDepth): DepthKey => `depth${d}`;

/** An interval as written in the inventory (a duration), or off for no monitor at that depth. */
export type MonitorInterval = string | 'off';
export type MonitorIntervals = Record<DepthKey, MonitorInterval>;

/**
 * Defaults. depth 0 (the process in /proc, a few milliseconds) runs often, so a dead daemon is
 * seen within 10 s; depth 10 (an HTTP health GET, a socket or broker-link check, no login) every
 * 30 s, the old single monitor's pace; depth 20 logs in to keystone, which costs keystone a
 * token per API per run and fails only on problems a restart rarely fixes: every 5 minutes.
 */
export const DEFAULT_MONITOR_INTERVALS: MonitorIntervals = { depth0: '10s', depth10: '30s', depth20: '300s' };

/** Operation timeouts: depth 0 reads /proc only; depths 10 and 20 make network calls (a token round trip). */
export const MONITOR_TIMEOUTS: Record<DepthKey, string> = { depth0: '20s', depth10: '60s', depth20: '60s' };

/** Depths an operator may switch off; depth 10 (the health check) always runs. */
export const OPTIONAL_DEPTHS: readonly DepthKey[] = ['depth0', 'depth20'];

/**
 * Active-active Galera's two monitors. Every instance is promoted while Galera runs, so the
 * promoted instances' monitor is the one that runs all the time; resources.overrides.mysql.ops.monitor
 * sets it. The unpromoted instances' monitor runs only while an instance waits to join or to
 * bootstrap, and a full outage's bootstrap waits for its reports: it keeps its interval. Pacemaker
 * keys a recurring operation by its interval, so the two must differ.
 */
export const GALERA_PROMOTED_MONITOR_INTERVAL = '15s';
export const GALERA_UNPROMOTED_MONITOR_INTERVAL = '20s';

/** Active-active rabbitmq-cluster's monitor (why 30 s: beside its ops in src/cluster/build.ts). */
export const RABBITMQ_CLUSTER_MONITOR_INTERVAL = '30s';

/** Milliseconds of a Pacemaker duration as the schema accepts it (a bare number is seconds). */
export function durationMs(text: string): number {
  const m = /^([0-9]+)(ms|s|m|min|h)?$/.exec(text);
  if (!m) return NaN;
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const factor: Record<string, number> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000 };
  return n * factor[unit]!;
}

export interface MonitorSettings {
  /** resources.monitors */
  defaults?: Partial<MonitorIntervals>;
  /** resources.overrides.<service>.ops.monitors */
  service?: Partial<MonitorIntervals>;
  /** resources.overrides.<service>.ops.monitor.interval: the depth-10 interval (the old single monitor). */
  legacyInterval?: string;
}

/** The intervals one service's monitors run at: service override, then inventory default, then osha's. */
export function effectiveIntervals(s: MonitorSettings): MonitorIntervals {
  const out: MonitorIntervals = { ...DEFAULT_MONITOR_INTERVALS };
  for (const source of [s.defaults, s.service]) {
    for (const d of MONITOR_DEPTHS) {
      const v = source?.[depthKey(d)];
      if (v !== undefined) out[depthKey(d)] = v;
    }
  }
  if (s.legacyInterval !== undefined && s.service?.depth10 === undefined) out.depth10 = s.legacyInterval;
  return out;
}

/** Pairs of depths whose intervals are equal: Pacemaker refuses two recurring monitors with one interval. */
export function clashingDepths(intervals: MonitorIntervals): [DepthKey, DepthKey][] {
  const on = MONITOR_DEPTHS.map(depthKey).filter((k) => intervals[k] !== 'off');
  const out: [DepthKey, DepthKey][] = [];
  for (let i = 0; i < on.length; i++) {
    for (let j = i + 1; j < on.length; j++) {
      if (durationMs(intervals[on[i]!]) === durationMs(intervals[on[j]!])) out.push([on[i]!, on[j]!]);
    }
  }
  return out;
}
