// Step 3: the cluster stack is installed, without the distribution starting any of it.
import type { Step } from '../runner/types.ts';
import type { OsFacts } from '../facts/host.ts';
import type { Topology } from '../inventory/schema.ts';
import { readFenceAgents, readInstalledPackages } from '../facts/host.ts';
import { planEachHost, commandAction } from './common.ts';
import { sh } from '../ssh/quote.ts';
import { err, ok } from '../util/result.ts';

/** The packages of the cluster stack per OS family (and what the active-active topology adds). */
export function clusterPackages(os: OsFacts, withFencing: boolean, topology: Topology = 'classic'): string[] {
  // Galera's provider library, rsync for its state transfers, HAProxy in front of every node, and
  // python3 for osha's Galera check that HAProxy asks (every OpenStack controller has it already).
  const activeActive = topology === 'active-active' ? [os.family === 'debian' ? 'galera-4' : 'galera', 'rsync', 'haproxy', 'python3'] : [];
  // libxml2-utils: resource-agents only recommends it and osha installs without recommends, but its
  // rabbitmq-cluster and galera agents read crm_mon's XML with xmllint. On Pacemaker 3 (Debian 13)
  // that is rabbitmq-cluster's only way to find the nodes to join: without it every node started
  // a RabbitMQ cluster of its own. (RHEL's libxml2, which pacemaker needs, has xmllint.)
  if (os.family === 'debian') {
    return ['pacemaker', 'pacemaker-cli-utils', 'corosync', 'crmsh', 'resource-agents', 'libxml2-utils', ...(withFencing ? ['fence-agents'] : []), ...activeActive];
  }
  return ['pacemaker', 'corosync', 'pcs', 'resource-agents', ...(withFencing ? ['fence-agents-all'] : []), ...activeActive];
}

/** Marks the policy-rc.d osha writes, so an interrupted run's leftover is recognised as ours. */
const POLICY_MARK = '# osha: no service starts during package installs';

/**
 * The apt install, wrapped in a policy-rc.d that forbids service starts: Debian's postinst would
 * otherwise start corosync and pacemaker with a default one-node cluster.
 */
export function aptInstallScript(packages: string[]): string {
  return [
    'set -e',
    'created=0',
    sh`if [ ! -e /usr/sbin/policy-rc.d ] || grep -q -F ${POLICY_MARK} /usr/sbin/policy-rc.d; then`,
    sh`  printf '#!/bin/sh\\n%s\\nexit 101\\n' ${POLICY_MARK} > /usr/sbin/policy-rc.d; chmod 0755 /usr/sbin/policy-rc.d; created=1`,
    'fi',
    `cleanup() { if [ "$created" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi; }`,
    'trap cleanup EXIT',
    `trap 'cleanup; exit 1' HUP INT TERM`,
    'export DEBIAN_FRONTEND=noninteractive',
    // An install cut short (node lost mid-run) leaves dpkg half-configured: finish it first. A
    // package cut during unpacking is half-installed (some of its files missing): reinstall it.
    'dpkg --configure -a',
    `broken=$(dpkg-query -W -f='\${db:Status-Abbrev} \${binary:Package}\\n' | awk 'substr($1, 2, 1) == "H" { print $2 }')`,
    'if [ -n "$broken" ]; then apt-get install -y -q --reinstall --no-install-recommends -o Dpkg::Options::=--force-confold $broken; fi',
    sh`do_install() { apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confold ${packages}; }`,
    // A node with stale or no package lists gets one `apt-get update`, then a second try.
    'do_install || { apt-get update -q && do_install; }',
  ].join('\n');
}

export function yumInstallCommand(pm: string, packages: string[]): string {
  return sh`${pm} install -y ${packages}`;
}

export const packages: Step = {
  name: 'packages',
  title: 'pacemaker, corosync, crmsh/pcs and resource-agents installed, nothing auto-started',
  plan(ctx) {
    const agents = [...new Set(ctx.inv.stonith.devices.map((d) => d.agent))];
    return planEachHost(ctx, async (h) => {
      // The distribution's fence agents only when a device's agent is not there already (a lab's
      // own agent, or one installed by hand, needs no package).
      // Both reads at once: the installed versions of every package this step may want.
      const [present, installed] = await Promise.all([
        readFenceAgents(h.c, agents),
        ctx.facts.get(h.host, 'packages', () => readInstalledPackages(h.c, h.os.packageManager, clusterPackages(h.os, agents.length > 0, ctx.inv.topology))),
      ]);
      if (!present.ok) return present;
      if (!installed.ok) return installed;
      const wanted = clusterPackages(h.os, agents.some((a) => !present.value.has(a)), ctx.inv.topology);
      const missing = wanted.filter((p) => !installed.value.get(p));
      if (missing.length === 0) return ok([]);
      const after = () => ctx.facts.forget(h.host, 'packages');
      if (h.os.packageManager === 'apt') {
        const a = commandAction(h, `install ${missing.join(' ')} (services kept stopped by policy-rc.d)`, aptInstallScript(missing), 1_800_000);
        return ok([{ ...a, commands: [sh`apt-get install -y --no-install-recommends ${missing}`], apply: async () => { const r = await a.apply(); after(); return r; } }]);
      }
      if (h.os.packageManager === 'dnf' || h.os.packageManager === 'yum') {
        // RHEL-family packages do not start services on install.
        return ok([commandAction(h, `install ${missing.join(' ')}`, yumInstallCommand(h.os.packageManager, missing), 1_800_000)]);
      }
      return err({ host: h.host, message: `installing with ${h.os.packageManager} is not supported yet`, fix: `install ${missing.join(' ')} by hand, then re-run` });
    });
  },
};
