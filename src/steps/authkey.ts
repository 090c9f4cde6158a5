// Step 5: one corosync authkey, shared by every node. Generated once on the operator's machine
// from a crypto random source; kept on re-runs; only its fingerprint is ever shown.
import { readAuthkeyFacts, type AuthkeyFacts } from '../facts/cluster.ts';
import { createHash, randomBytes } from 'node:crypto';
import type { Action, HostPlan, Step } from '../runner/types.ts';
import { AUTHKEY_CHANGED, gatherEachHost, runNote, type HostHandle } from './common.ts';
import { COROSYNC_AUTHKEY, COROSYNC_CONF, MANAGED_MARKER } from '../render/corosync.ts';
import { sh } from '../ssh/quote.ts';
import { err, ok, type Result } from '../util/result.ts';
import { stackFacts } from './cluster-identity.ts';
import { COROSYNC_RESTART, oweAction } from './owed.ts';

/** corosync-keygen's default size: 2048 bits. */
export const AUTHKEY_BYTES = 256;

export function keyFingerprint(sha256hex: string): string {
  return `sha256:${sha256hex.slice(0, 16)}`;
}

type KeyFact = AuthkeyFacts;

function readKeyFact(h: HostHandle): Promise<Result<KeyFact>> {
  return readAuthkeyFacts(h.c, { authkey: COROSYNC_AUTHKEY, conf: COROSYNC_CONF, marker: MANAGED_MARKER });
}

export type KeyDecision =
  | { kind: 'keep'; sha256: string }
  | { kind: 'copy'; sha256: string; from: string }
  | { kind: 'generate'; reason: string }
  | { kind: 'conflict'; fingerprints: Map<string, string | undefined> };

/** Pure: what to do with the authkey, from what each node has. */
export function decideKey(facts: Map<string, KeyFact>, regenerate: boolean): KeyDecision {
  if (regenerate) return { kind: 'generate', reason: '--regenerate-key' };
  const present = [...facts.entries()].filter(([, f]) => f.sha256);
  const distinct = new Set(present.map(([, f]) => f.sha256));
  if (present.length === 0) return { kind: 'generate', reason: 'no node has a key yet' };
  const anyManaged = [...facts.values()].some((f) => f.managed);
  if (distinct.size === 1) {
    const [from, f] = present[0]!;
    // A single package-made key on one fresh node is not a cluster key: make a proper one.
    if (!anyManaged && present.length < facts.size) return { kind: 'generate', reason: 'no osha-managed key yet' };
    return present.length === facts.size ? { kind: 'keep', sha256: f.sha256! } : { kind: 'copy', sha256: f.sha256!, from };
  }
  // Keys that differ on nodes osha never configured come from package installs: replace them.
  if (!anyManaged) return { kind: 'generate', reason: 'nodes have unrelated keys from their package installs' };
  return { kind: 'conflict', fingerprints: new Map([...facts.entries()].map(([h, f]) => [h, f.sha256 ? keyFingerprint(f.sha256) : undefined])) };
}

function installKeyAction(h: HostHandle, key: () => Promise<Result<Buffer>>, fp: string): Action {
  return {
    summary: `install corosync authkey ${fp} at ${COROSYNC_AUTHKEY} (mode 0400 root)`,
    apply: async () => {
      const k = await key();
      if (!k.ok) return k;
      return h.c.upload(COROSYNC_AUTHKEY, k.value, { mode: 0o400, owner: 'root', group: 'root' });
    },
  };
}

export const authkey: Step = {
  name: 'authkey',
  title: 'every node has the same corosync authkey, mode 0400 root',
  needsAllHosts: true,
  async plan(ctx) {
    const gathered = await gatherEachHost(ctx, readKeyFact);
    if (!gathered.ok) return gathered.plans;
    const { handles, facts } = gathered;
    const plans = new Map<string, HostPlan>();

    const decision = decideKey(facts, ctx.options.regenerateKey);
    if (decision.kind === 'conflict') {
      const list = [...decision.fingerprints].map(([h, fp]) => `${h}: ${fp ?? 'none'}`).join(', ');
      for (const host of ctx.hosts) {
        plans.set(host, err({ host, message: `corosync authkeys differ between nodes (${list})`, fix: 'find out why, then re-run with --regenerate-key to give every node a new key' }));
      }
      return plans;
    }
    let newKey: Buffer | undefined;
    let sourceKey: (() => Promise<Result<Buffer>>) | undefined;
    let targetSha: string;
    if (decision.kind === 'generate') {
      newKey = randomBytes(AUTHKEY_BYTES);
      targetSha = createHash('sha256').update(newKey).digest('hex');
      const k = newKey;
      sourceKey = async () => ok(k);
      for (const host of ctx.hosts) ctx.note(host, `new corosync authkey ${keyFingerprint(targetSha)} (${decision.reason})`);
    } else {
      targetSha = decision.sha256;
      if (decision.kind === 'copy') {
        // Read once from the node that has it, for every node that lacks it; never printed.
        let cached: Promise<Result<Buffer>> | undefined;
        const from = handles.get(decision.from)!;
        sourceKey = () => {
          cached ??= from.c.readFile(COROSYNC_AUTHKEY).then((r) => (r.ok && r.value ? ok(r.value) : err({ host: decision.from, message: 'cannot read the authkey to copy it' })));
          return cached;
        };
      }
    }
    const fp = keyFingerprint(targetSha);
    for (const host of ctx.hosts) {
      const h = handles.get(host)!;
      const f = facts.get(host)!;
      const actions: Action[] = [];
      if (f.sha256 !== targetSha && sourceKey) {
        const stack = await stackFacts(ctx, h);
        if (!stack.ok) {
          plans.set(host, stack);
          continue;
        }
        const install = installKeyAction(h, sourceKey, fp);
        if (stack.value.corosyncActive) {
          // A running corosync keeps the old key until it restarts; every node restarts together.
          actions.push(oweAction(ctx, h, COROSYNC_RESTART, 'corosync owes a restart for its new authkey'));
          install.disruptive = 'a new key means restarting corosync and pacemaker on every node together: services pause until the cluster re-forms';
        }
        actions.push(install);
        runNote<string>(ctx, AUTHKEY_CHANGED).add(host);
      } else if (f.mode !== '400' || f.owner !== 'root:root') {
        actions.push({
          summary: `fix ${COROSYNC_AUTHKEY} permissions (${f.mode} ${f.owner} -> 400 root:root)`,
          commands: [sh`chown root:root ${COROSYNC_AUTHKEY} && chmod 0400 ${COROSYNC_AUTHKEY}`],
          apply: async () => {
            const r = await h.c.run(sh`chown root:root ${COROSYNC_AUTHKEY} && chmod 0400 ${COROSYNC_AUTHKEY}`);
            return r.ok ? ok(undefined) : r;
          },
        });
      }
      plans.set(host, ok(actions));
    }
    return plans;
  },
};
