// Step 4: services Pacemaker will own are taken away from the init system, so that nothing but
// Pacemaker ever starts them (two copies of a database on two nodes is how data is lost).
import type { Action, Step } from '../runner/types.ts';
import { companionsOf, perService, type ServiceName } from '../services/registry.ts';
import { planEachHost, commandAction, fileFact, writeFileActions, type HostHandle } from './common.ts';
import { readUnitStates, type UnitState } from '../facts/host.ts';
import { sh } from '../ssh/quote.ts';
import { ok, type Result } from '../util/result.ts';
import type { Inventory } from '../inventory/schema.ts';

/** Init units per service on Debian/Ubuntu (the registry's initUnits). */
export const INIT_UNITS: Record<ServiceName, string[]> = perService((e) => [...e.initUnits]);

/**
 * Units of services the registry calls companions of a listed service (services it does not work
 * without: Debian's neutron-rpc-server beside neutron-server) that the inventory does not list:
 * osha leaves them to the init system, and says so where they exist.
 */
export function companionUnits(services: readonly ServiceName[]): { service: ServiceName; of: ServiceName; unit: string }[] {
  const listed = new Set<string>(services);
  return services.flatMap((of) =>
    companionsOf(of).filter((c) => !listed.has(c)).flatMap((service) => INIT_UNITS[service].map((unit) => ({ service, of, unit }))),
  );
}

/** What the operator should know of an unlisted companion's unit on one node, or nothing. */
export function companionNote(c: { service: ServiceName; of: ServiceName; unit: string }, s: UnitState, init: string): string | undefined {
  if (!s.exists) return undefined;
  const what = `${c.unit === c.service ? c.unit : `${c.unit} (${c.service})`}, which ${c.of} needs,`;
  const fix = `list ${c.service} under services and Pacemaker runs it beside ${c.of}`;
  if (s.enabled === 'masked' && s.active !== 'active') return `${what} is masked and runs nowhere: ${fix}`;
  return `${what} stays with ${init} here, outside Pacemaker: ${fix}`;
}

/** Whether a systemd unit still needs its stop, disable and mask (a masked unit may still run). */
function needsMask(s: UnitState): boolean {
  return s.exists && !(s.enabled === 'masked' && s.active !== 'active');
}

/** Upstart and sysvinit: the unit no longer starts at boot. */
function bootActions(h: HostHandle, unit: string, s: UnitState): Action[] {
  if (!s.exists) return [];
  if (h.os.init === 'upstart') {
    if (s.enabled === 'manual') return [];
    return [commandAction(h, `write /etc/init/${unit}.override (manual)`, sh`echo manual > ${`/etc/init/${unit}.override`}`)];
  }
  if (s.enabled === 'disabled') return [];
  return [commandAction(h, `update-rc.d ${unit} disable`, sh`update-rc.d ${unit} disable`)];
}

/**
 * Stop, disable and mask for these systemd units: one action per unit, so the plan names each
 * (and says which ones stop a running service), but one command does them all at the first
 * apply. systemd then stops the units side by side and reloads its configuration twice, not
 * twice per unit one after another. The runner applies a host's actions in order once the step
 * is confirmed, so the first apply speaks for the rest; a failure fails them all, and the next
 * run plans again from what the node reports.
 */
export function maskActions(h: HostHandle, units: readonly { unit: string; state: UnitState }[]): Action[] {
  const names = units.map((u) => `${u.unit}.service`);
  const command = sh`systemctl disable --now ${names} && systemctl mask ${names}`;
  let batch: Promise<Result<void>> | undefined;
  return units.map(({ unit, state }, i) => {
    const action: Action = {
      summary: `stop, disable and mask ${unit} (Pacemaker owns it)`,
      // The whole command, shown once: with the first unit.
      commands: i === 0 ? [command] : [],
      apply: async () => {
        batch ??= h.c.run(command).then((r) => (r.ok ? ok(undefined) : r));
        return batch;
      },
    };
    // Running outside Pacemaker now: stopping it is an outage until Pacemaker starts it again.
    if (state.active === 'active') action.disruptive = `${unit} runs now and stops until Pacemaker starts it`;
    return action;
  });
}

/**
 * Units Pacemaker runs through their systemd unit (systemd:NAME resources): disabled and stopped,
 * never masked, since systemd refuses to start a masked unit even for Pacemaker. HAProxy in the
 * active-active topology.
 */
export function pacemakerSystemdUnits(inv: Pick<Inventory, 'topology'>): string[] {
  return inv.topology === 'active-active' ? ['haproxy'] : [];
}

export function disableActions(h: HostHandle, unit: string, s: UnitState): Action[] {
  if (!s.exists || h.os.init !== 'systemd') return [];
  // Only the start at boot is taken away. A running unit is left running: Pacemaker's clone
  // adopts it (systemd starts an active unit as a no-op), and once the cluster runs it, it is
  // Pacemaker's own instance that is active here.
  if (s.enabled !== 'enabled') return [];
  return [commandAction(h, `disable ${unit} at boot (Pacemaker starts it through systemd)`, sh`systemctl disable ${`${unit}.service`}`)];
}

export const initServices: Step = {
  name: 'init-services',
  title: 'services Pacemaker will own are stopped and masked in the init system; corosync may start',
  plan(ctx) {
    const units = [...new Set(ctx.inv.services.flatMap((s) => INIT_UNITS[s]))];
    const systemdUnits = pacemakerSystemdUnits(ctx.inv);
    const companions = companionUnits(ctx.inv.services);
    return planEachHost(ctx, async (h) => {
      const states = await readUnitStates(h.c, h.os.init, [...units, ...systemdUnits, ...companions.map((c) => c.unit)]);
      if (!states.ok) return states;
      const state = (u: string): UnitState => states.value.get(u) ?? { exists: false, enabled: '', active: '' };
      for (const c of companions) {
        const line = companionNote(c, state(c.unit), h.os.init);
        if (line) ctx.note(h.host, line);
      }
      const masks = units.map((u) => ({ unit: u, state: state(u) })).filter((u) => needsMask(u.state));
      const actions = h.os.init === 'systemd' ? maskActions(h, masks) : units.flatMap((u) => bootActions(h, u, state(u)));
      actions.push(...systemdUnits.flatMap((u) => disableActions(h, u, state(u))));
      // Older Debian/Ubuntu corosync packages refuse to start until START=yes.
      const def = await fileFact(ctx, h, '/etc/default/corosync');
      if (!def.ok) return def;
      if (def.value.exists) {
        const text = def.value.content?.toString('utf8') ?? '';
        const next = /^START=/m.test(text) ? text.replace(/^START=.*$/m, 'START=yes') : `${text}${text.endsWith('\n') || !text ? '' : '\n'}START=yes\n`;
        actions.push(...writeFileActions(h, '/etc/default/corosync', def.value, next, { mode: 0o644, backup: true }));
      }
      return ok(actions);
    });
  },
};
