// Corosync tuning profiles: how fast a dead node is noticed, and what that speed costs.
// Numbers from corosync.conf(5) (corosync 3): token 3000 ms, token_coefficient 650 ms per node
// beyond two, consensus 1.2 × token, join 50 ms, 4 token retransmits before loss.
import type { Inventory } from '../inventory/schema.ts';
import { GALERA_EVICTION_DEFAULTS, sameEviction, type GaleraEviction } from '../render/node-files.ts';

export type ProfileName = Inventory['corosync']['profile'];

/** The totem settings a profile writes to corosync.conf, in milliseconds. */
export interface TotemTuning {
  token: number;
  token_coefficient: number;
  consensus: number;
  join: number;
  token_retransmits_before_loss_const: number;
}

interface Profile {
  totem: Omit<TotemTuning, 'consensus'>;
  /** What the speed costs, for the plan. */
  cost: string;
}

const PROFILES: Record<ProfileName, Profile> = {
  default: {
    totem: { token: 3000, token_coefficient: 650, join: 50, token_retransmits_before_loss_const: 4 },
    cost: 'rides out a few seconds of packet loss, a busy CPU or a paused VM without declaring a node dead',
  },
  fast: {
    totem: { token: 1000, token_coefficient: 250, join: 50, token_retransmits_before_loss_const: 4 },
    cost:
      'more false failovers (and fencing) when a node stalls for a second: heavy load, swapping, a VM live migration or a congested network; give corosync a dedicated, quiet network',
  },
};

/**
 * Effective totem settings for a cluster of `nodeCount` nodes. `tokenOverride` is the inventory's
 * corosync.token_timeout, which replaces the profile's token. consensus is written explicitly
 * as 1.2 × the real token (token + (nodes - 2) × coefficient), corosync's own minimum.
 */
export function totemTuning(profile: ProfileName, nodeCount: number, tokenOverride?: number): TotemTuning {
  const p = PROFILES[profile].totem;
  const token = tokenOverride ?? p.token;
  return { ...p, token, consensus: Math.ceil(1.2 * realToken(token, p.token_coefficient, nodeCount)) };
}

/** corosync's real token timeout: the coefficient applies from the third node on. */
export function realToken(token: number, coefficient: number, nodeCount: number): number {
  return nodeCount >= 3 ? token + (nodeCount - 2) * coefficient : token;
}

export interface ProfileSummary {
  profile: ProfileName;
  totem: TotemTuning;
  /** Time until a dead node is declared lost (the real token timeout), ms. */
  detectMs: number;
  /** Time until the survivors have formed a new membership (token + consensus + join), ms. */
  membershipMs: number;
  /** One sentence for the plan: what the profile gives and what it costs. */
  sentence: string;
}

export function describeProfile(profile: ProfileName, nodeCount: number, tokenOverride?: number): ProfileSummary {
  const totem = totemTuning(profile, nodeCount, tokenOverride);
  const detectMs = realToken(totem.token, totem.token_coefficient, nodeCount);
  const membershipMs = detectMs + totem.consensus + totem.join;
  const override = tokenOverride === undefined ? '' : ` (token ${tokenOverride} ms from corosync.token_timeout)`;
  const sentence =
    `${profile}${override}: a failed node is detected in ~${seconds(detectMs)} and the cluster re-forms within ~${seconds(membershipMs)}, ` +
    `before Pacemaker fences it and restarts its resources; cost: ${PROFILES[profile].cost}.`;
  return { profile, totem, detectMs, membershipMs, sentence };
}

/** The summary for an inventory's corosync settings. */
export function inventoryProfile(inv: Inventory): ProfileSummary {
  return describeProfile(inv.corosync.profile, inv.nodes.length, inv.corosync.token_timeout);
}

/**
 * How soon Galera drops a silent node, following the corosync timing: every write on the
 * survivors stalls until it does, even after Pacemaker has fenced the node. With corosync's own
 * timing (a real token of 3 s or more) Galera keeps its defaults; a faster one (the fast profile,
 * a shorter corosync.token_timeout) gives Galera the real token rounded up to whole seconds,
 * at least 2 s, and keepalives at a quarter of that. A Galera that drops a live node costs less
 * than a fenced one: the node rejoins by an incremental state transfer.
 */
export function galeraEviction(profile: ProfileName, nodeCount: number, tokenOverride?: number): GaleraEviction {
  const totem = totemTuning(profile, nodeCount, tokenOverride);
  const real = realToken(totem.token, totem.token_coefficient, nodeCount);
  if (real >= 3000) return GALERA_EVICTION_DEFAULTS;
  const suspectMs = Math.max(2000, Math.ceil(real / 1000) * 1000);
  return { suspectMs, keepaliveMs: suspectMs / 4 };
}

/** The eviction timing for an inventory's corosync settings. */
export function inventoryGaleraEviction(inv: Inventory): GaleraEviction {
  return galeraEviction(inv.corosync.profile, inv.nodes.length, inv.corosync.token_timeout);
}

/** One sentence for the plan: when Galera drops a silent node, and why then. */
export function galeraEvictionSentence(inv: Inventory): string {
  const e = inventoryGaleraEviction(inv);
  return sameEviction(e, GALERA_EVICTION_DEFAULTS)
    ? `a silent node is dropped after ${seconds(e.suspectMs)} (Galera's own evs.suspect_timeout); writes wait for it`
    : `a silent node is dropped after ${seconds(e.suspectMs)} (evs.suspect_timeout, Galera's own is 5 s), in step with corosync's timing, so writes wait less when a node dies`;
}

function seconds(ms: number): string {
  // Tenths of a second, rounded half up (3650 ms is ~3.7 s; toFixed would say 3.6).
  return `${Math.round(ms / 100) / 10} s`;
}
