// End-to-end test of the lab itself: a real 3-node lab of its own (198.18.200.0/24), entered
// over ssh with the generated inventory and known_hosts, broken in every supported way, torn down.
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labDown, labHeal, labKill, labPartition, labReboot, labStart, labStatus, labUp, type LabInfo as ApiLabInfo } from '../../src/lab/index.ts';
import { planLab } from '../../src/lab/plan.ts';
import { OFFLINE_DEBS, PREINSTALLED, PREINSTALLED_UNITS } from '../../src/lab/image-recipe.ts';
import { loadInventory } from '../../src/inventory/load.ts';
import { run } from '../../src/lab/exec.ts';
import { IDLE_LOADAVG, sshBanner } from '../../src/lab/node.ts';
import { APT_PROXY_PORT, aptProxyAlive, aptProxyLog } from '../../src/lab/apt-proxy.ts';
import { nodeSsh, skipWithoutLab, leftovers, type ExecResult, type LabInfo, labInfoOf } from '../support/lab.ts';
import { onTeardown } from '../support/teardown.ts';

const DIR = '/tmp/osha-test-lab-own';
const SHARED = '/tmp/osha-test-lab-own-shared';
const SUBNET = 200;

/** A command on a node over ssh, as an operator runs one: this file tests what the nodes themselves allow. */
async function labExec(lab: Pick<LabInfo, 'nodes'>, node: string, command: string): Promise<ExecResult> {
  return nodeSsh(lab.nodes.find((n) => n.name === node)!, command);
}

async function sh(lab: LabInfo, node: string, command: string): Promise<string> {
  const r = await labExec(lab, node, command);
  if (r.code !== 0) throw new Error(`${node}: ${command} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim()}`);
  return r.stdout.trim();
}

describe('osha lab (3 real nodes)', function () {
  this.timeout(15 * 60_000);
  const plan = planLab({ dir: DIR, nodes: 3, subnet: SUBNET });
  let lab: LabInfo;
  let up: ApiLabInfo;

  before(async function () {
    await skipWithoutLab(this);
    onTeardown(async () => void (await labDown(DIR)));
    await labDown(DIR); // a lab left by a crashed earlier run
    onTeardown(() => rmSync(SHARED, { recursive: true, force: true }));
    const r = await labUp({ dir: DIR, nodes: 3, subnet: SUBNET, shared: SHARED });
    if (!r.ok) throw new Error(r.error.message);
    up = r.value;
    lab = labInfoOf(r.value);
  });

  after(async () => {
    await labDown(DIR);
    rmSync(SHARED, { recursive: true, force: true });
  });

  it('writes an inventory that osha validate accepts, with the lab key and pinned host keys', async () => {
    const inv = await loadInventory(up.inventory);
    if (!inv.ok) throw new Error(JSON.stringify(inv.error));
    expect(inv.value.nodes.map((n) => n.address)).to.deep.equal(['198.18.200.11', '198.18.200.12', '198.18.200.13']);
    expect(inv.value.ssh.private_key).to.equal(up.privateKey);
    const known = readFileSync(up.knownHosts, 'utf8').trim().split('\n');
    expect(known).to.have.length(3);
    for (const [i, line] of known.entries()) expect(line).to.match(new RegExp(`^198\\.18\\.200\\.${11 + i} ssh-ed25519 AAAA\\S+$`));
    expect((await run('stat', ['-c', '%a', up.privateKey])).stdout.trim()).to.equal('600');
  });

  it('lets ssh into every node with strict host key checking, and a wrong host key is refused', async () => {
    for (const n of lab.nodes) expect(await sh(lab, n.name, 'hostname')).to.equal(n.name);
    // The pinned key of node1 used for node2's address must fail: known_hosts holds real, distinct keys.
    const swapped = readFileSync(up.knownHosts, 'utf8').split('\n')[0]!.replace('198.18.200.11', '198.18.200.12');
    const tmp = mkdtempSync(join(tmpdir(), 'osha-kh-'));
    const bad = join(tmp, 'known_hosts');
    writeFileSync(bad, `${swapped}\n`);
    const r = await labExec({ nodes: [{ ...lab.nodes[1]!, knownHosts: bad }] }, 'node2', 'true');
    rmSync(tmp, { recursive: true, force: true });
    expect(r.code).to.equal(255);
    expect(r.stderr).to.match(/host key/i);
  });

  it('isolates nodes: hostname, /etc, /dev/shm and machine-id differ; no resolver', async () => {
    await sh(lab, 'node1', 'echo one > /etc/osha-marker && echo shm > /dev/shm/osha-marker');
    expect(await sh(lab, 'node2', 'test -e /etc/osha-marker && echo yes || echo no')).to.equal('no');
    expect(await sh(lab, 'node2', 'test -e /dev/shm/osha-marker && echo yes || echo no')).to.equal('no');
    const ids = await Promise.all(lab.nodes.map((n) => sh(lab, n.name, 'cat /etc/machine-id')));
    expect(new Set(ids).size).to.equal(3);
    for (const id of ids) expect(id).to.match(/^[0-9a-f]{32}$/);
    expect(await sh(lab, 'node1', 'grep -c "^nameserver" /etc/resolv.conf || true')).to.equal('0');
    expect(await sh(lab, 'node3', 'systemctl is-system-running')).to.equal('running');
  });

  it("gives every node an idle load average of its own, not the host's (Pacemaker throttles on it)", async () => {
    for (const n of lab.nodes) expect(`${await sh(lab, n.name, 'cat /proc/loadavg')}\n`).to.equal(IDLE_LOADAVG);
    // Read-only: a node cannot change what it reads.
    expect((await labExec(lab, 'node1', 'echo 9 > /proc/loadavg')).code).to.not.equal(0);
  });

  it('mounts the shared directory into every node (stand-in for shared storage)', async () => {
    await sh(lab, 'node1', 'echo from-node1 > /srv/shared/hello');
    expect(await sh(lab, 'node3', 'cat /srv/shared/hello')).to.equal('from-node1');
    expect(readFileSync(join(SHARED, 'hello'), 'utf8').trim()).to.equal('from-node1');
  });

  it('gives nodes CAP_NET_ADMIN and a shared L2 network: a VIP added on one node is reachable from another', async () => {
    await sh(lab, 'node1', `ip addr add ${up.vip}/24 dev eth0`);
    const banner = await sh(lab, 'node2', `timeout 5 bash -c 'exec 3<>/dev/tcp/${up.vip}/22; head -c 4 <&3'`);
    expect(banner).to.equal('SSH-');
    await sh(lab, 'node1', `ip addr del ${up.vip}/24 dev eth0`);
  });

  it('installs pacemaker offline on a node from the image apt cache', async () => {
    const out = await sh(lab, 'node1', 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-download pacemaker >/tmp/apt.log 2>&1 || { tail -5 /tmp/apt.log; exit 1; }; crm_mon --version | head -1');
    expect(out).to.match(/^Pacemaker 2\./);
  });

  it('comes with the controllers\' OpenStack packages installed from the image, none of them running or enabled', async () => {
    const state = await sh(lab, 'node2', `dpkg-query -W -f '\${Package} \${db:Status-Abbrev}\\n' ${PREINSTALLED.join(' ')}`);
    expect(state.split('\n').map((l) => l.trim()).sort()).to.deep.equal(PREINSTALLED.map((p) => `${p} ii`).sort());
    for (const u of PREINSTALLED_UNITS) {
      expect(await sh(lab, 'node2', `systemctl is-enabled ${u} || true`), u).to.equal('disabled');
      expect(await sh(lab, 'node2', `systemctl is-active ${u} || true`), u).to.equal('inactive');
    }
    // The cluster stack is osha deploy's to install.
    expect(await sh(lab, 'node2', "dpkg-query -W -f '${db:Status-Abbrev}' corosync 2>/dev/null || true")).to.not.match(/^ii/);
  });

  it('has every listed offline package and its dependencies in the apt cache (nothing to download)', async () => {
    // --print-uris lists what apt would have to fetch; with a complete cache it lists nothing.
    const uris = await sh(lab, 'node3', `apt-get install -qq --print-uris ${OFFLINE_DEBS.join(' ')}`);
    expect(uris).to.equal('');
  });

  it('kill is a power cut: the namespace and a VIP vanish; start boots the same disk again', async () => {
    await sh(lab, 'node2', `ip addr add ${up.vip}/24 dev eth0 && echo kept > /root/disk-marker && sync`);
    const killed = await labKill(DIR, 'node2');
    if (!killed.ok) throw new Error(killed.error.message);
    expect((await run('ip', ['netns', 'list'])).stdout).to.not.include(plan.nodes[1]!.netns);
    expect(await sshBanner('198.18.200.12', 500)).to.equal(false);
    const status = await labStatus(DIR);
    expect(status.ok && status.value.nodes[1]!.state).to.equal('killed');
    // The VIP answers nowhere now.
    expect((await labExec(lab, 'node1', `timeout 2 bash -c 'exec 3<>/dev/tcp/${up.vip}/22'`)).code).to.not.equal(0);
    const started = await labStart(DIR, 'node2');
    if (!started.ok) throw new Error(started.error.message);
    expect(await sh(lab, 'node2', 'cat /root/disk-marker')).to.equal('kept');
    expect(await sh(lab, 'node2', `ip -4 -o addr show dev eth0 | grep -c ${up.vip} || true`)).to.equal('0');
  });

  it('partition cuts a node off; heal restores it', async () => {
    const cut = await labPartition(DIR, 'node3');
    if (!cut.ok) throw new Error(cut.error.message);
    expect((await labExec(lab, 'node1', "timeout 2 bash -c 'exec 3<>/dev/tcp/198.18.200.13/22'")).code).to.not.equal(0);
    expect(await sshBanner('198.18.200.13', 500)).to.equal(false);
    const healed = await labHeal(DIR, 'node3');
    if (!healed.ok) throw new Error(healed.error.message);
    expect(await sh(lab, 'node1', "timeout 5 bash -c 'exec 3<>/dev/tcp/198.18.200.13/22; head -c 4 <&3'")).to.equal('SSH-');
  });

  it('reboot restarts the node (a fresh /run) and it answers again', async () => {
    await sh(lab, 'node3', 'touch /run/osha-before-reboot');
    const r = await labReboot(DIR, 'node3');
    if (!r.ok) throw new Error(r.error.message);
    expect(await sh(lab, 'node3', 'test -e /run/osha-before-reboot && echo stale || echo fresh')).to.equal('fresh');
    expect(await sh(lab, 'node3', 'hostname')).to.equal('node3');
    expect(`${await sh(lab, 'node3', 'cat /proc/loadavg')}\n`).to.equal(IDLE_LOADAVG);
  });

  it("gives the nodes apt through the lab's apt proxy: update works, a package installs through it, other hosts are refused", async () => {
    const status = await labStatus(DIR);
    expect(status.ok && status.value.aptProxy).to.deep.include({ address: plan.gateway, port: APT_PROXY_PORT, running: true });
    const log = () => readFileSync(aptProxyLog(DIR), 'utf8');
    const from = plan.nodes[1]!.address.replace(/\./g, '\\.');
    const update = await labExec(lab, 'node2', 'apt-get update 2>&1');
    expect(update.code, update.stdout).to.equal(0);
    // Every index apt asks for is in the snapshot: no "Err:", no warning about a missing file.
    expect(update.stdout).to.not.match(/^(Err|W|E):/m);
    expect(log()).to.match(new RegExp(`${from} GET http://\\S+/dists/bookworm/InRelease -> cache image [0-9a-f]{16} (200|304)`));
    // With the node's own apt cache emptied, the .debs come through the proxy (from the image's snapshot).
    await sh(lab, 'node2', 'apt-get clean && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends csync2 >/tmp/apt.log 2>&1 || { tail -5 /tmp/apt.log; exit 1; }');
    expect(await sh(lab, 'node2', "dpkg-query -W -f '${db:Status-Abbrev}' csync2")).to.equal('ii');
    expect(log()).to.match(new RegExp(`${from} GET http://\\S+/pool/main/c/csync2/csync2_\\S+\\.deb -> cache image [0-9a-f]{16} 200`));
    const other = await labExec(lab, 'node2', `curl -s -o /dev/null -w '%{http_code}' -x http://${plan.gateway}:${APT_PROXY_PORT} http://example.com/`);
    expect(other.stdout).to.equal('403');
    expect(log()).to.include(`${plan.nodes[1]!.address} GET http://example.com/ -> 403 refused: example.com is not a Debian mirror`);
  });

  it('down removes every namespace, link, mount, process and cgroup, and is safe twice', async () => {
    const before = await labStatus(DIR);
    const proxyPid = before.ok ? before.value.aptProxy?.pid : undefined;
    expect(proxyPid).to.be.a('number');
    const r = await labDown(DIR);
    expect(r.ok && r.value.removed).to.equal(true);
    expect(await leftovers(plan)).to.deep.equal([]);
    expect(aptProxyAlive(proxyPid, DIR)).to.equal(false);
    const again = await labDown(DIR);
    expect(again.ok && again.value.removed).to.equal(false);
  });
});

describe('osha lab cleans up a failed bring-up', function () {
  this.timeout(10 * 60_000);
  const dir = '/tmp/osha-test-lab-fail';
  const plan = planLab({ dir, nodes: 2, subnet: 201 });

  before(async function () {
    await skipWithoutLab(this);
    onTeardown(async () => void (await labDown(dir)));
  });
  after(async () => void (await labDown(dir)));

  it('removes what it made when the nodes do not answer in time', async () => {
    const r = await labUp({ dir, nodes: 2, subnet: 201, timeoutMs: 1 });
    expect(r.ok).to.equal(false);
    if (!r.ok) expect(r.error.message).to.match(/the lab did not come up: node1 did not answer on ssh in time/);
    expect(await leftovers(plan)).to.deep.equal([]);
  });
});
