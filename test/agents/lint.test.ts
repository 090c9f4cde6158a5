// Static checks of the agents: shellcheck -s sh, OCF 1.0 meta-data as user nobody, every
// parameter the library reads documented in meta-data.
import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import { agentFiles, agentSourceDir, LIBRARY_NAME } from '../../src/agents/files.ts';
import { run } from '../../src/lab/exec.ts';
import { DEFAULT_MONITOR_INTERVALS, MONITOR_DEPTHS, MONITOR_TIMEOUTS, depthKey } from '../../src/inventory/monitors.ts';
import { hostSkipReason, installAgentTree, type AgentTree } from './support.ts';

describe('OCF agents: static checks', function () {
  it('shellcheck -s sh is clean on every agent, alias and the library', async function () {
    if (!existsSync('/usr/bin/shellcheck')) {
      console.log('      (skipped: shellcheck is not installed)');
      this.skip();
    }
    const files = (await agentFiles()).map((f) => `${agentSourceDir()}/${f.name}`);
    const r = await run('shellcheck', ['-s', 'sh', ...files]);
    expect(r.stdout + r.stderr).to.equal('');
    expect(r.code).to.equal(0);
  });

  describe('meta-data', function () {
    let tree: AgentTree;
    before(async function () {
      const reason = hostSkipReason();
      if (reason) {
        console.log(`      (skipped: ${reason})`);
        this.skip();
      }
      tree = await installAgentTree();
    });

    it('is valid OCF 1.0 (ra-api-1.dtd) for every agent and alias, printed as user nobody', async function () {
      for (const f of await agentFiles()) {
        if (f.kind === 'library') continue;
        const cmd = `OCF_ROOT=/usr/lib/ocf OCF_OPENSTACK_LIBDIR='${tree.libDir}' '${tree.agent(f.name)}' meta-data | (cd /usr/share/resource-agents && xmllint --noout --valid -)`;
        const r = await run('su', ['nobody', '-s', '/bin/sh', '-c', cmd]);
        expect(r.code, `${f.name}: ${r.stderr}`).to.equal(0);
        expect(r.stderr, f.name).to.equal('');
      }
    });

    it("osha's galera is heartbeat's galera, its node list optional and read from /etc/osha/galera-cluster-address when not given", async function () {
      const galera = '/usr/lib/ocf/resource.d/heartbeat/galera';
      if (!existsSync(galera)) this.skip(); // needs resource-agents (.ci/apt-packages)
      const env = { OCF_ROOT: '/usr/lib/ocf', PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };
      const ours = (await run(tree.agent('galera'), ['meta-data'], { env })).stdout;
      const theirs = (await run(galera, ['meta-data'], { env })).stdout;
      // Only this line differs from heartbeat's own.
      const changed = (a: string, b: string) => a.split('\n').filter((l) => !b.split('\n').includes(l));
      expect(changed(ours, theirs)).to.deep.equal(['<parameter name="wsrep_cluster_address" unique="0" required="0">']);
      // Any action is heartbeat's galera's answer (here: its usage, exit 2 for an unknown action).
      const [a, b] = await Promise.all([run(tree.agent('galera'), ['no-such-action'], { env }), run(galera, ['no-such-action'], { env })]);
      expect([a.code, a.stdout]).to.deep.equal([b.code, b.stdout]);
    });

    it('documents every parameter the library reads, with defaults and a monitor per depth at osha\'s default intervals', async function () {
      const lib = readFileSync(`${agentSourceDir()}/${LIBRARY_NAME}`, 'utf8');
      const read = new Set([...lib.matchAll(/OCF_RESKEY_([a-z_]+)\b/g)].map((m) => m[1]!).filter((n) => !n.endsWith('_default') && !n.startsWith('CRM_')));
      const documented = new Set<string>();
      for (const f of await agentFiles()) {
        if (f.kind !== 'agent') continue;
        const r = await run(tree.agent(f.name), ['meta-data'], { env: { OCF_ROOT: '/usr/lib/ocf', OCF_OPENSTACK_LIBDIR: tree.libDir } });
        for (const m of r.stdout.matchAll(/<parameter name="([a-z_]+)"[\s\S]*?<content type="\w+" default="[^"]*" \/>/g)) documented.add(m[1]!);
        // The advertised monitors are the ones osha configures by default (src/inventory/monitors.ts).
        const depths = [...r.stdout.matchAll(/<action name="monitor" timeout="(\d+s)" interval="(\d+s)" depth="(\d+)" \/>/g)].map((m) => [m[3], m[2], m[1]]);
        const expected = MONITOR_DEPTHS.map((d) => [String(d), DEFAULT_MONITOR_INTERVALS[depthKey(d)], MONITOR_TIMEOUTS[depthKey(d)]]);
        // An agent with nothing to log in to (nova-novncproxy) has no depth-20 monitor.
        const deep = !String(f.content).includes('OSA_DEEP=none');
        expect(depths, f.name).to.deep.equal(deep ? expected : expected.filter(([d]) => d !== '20'));
        expect(r.stdout, f.name).to.match(/<action name="start" timeout="\d+s" \/>/);
      }
      expect([...read].filter((n) => !documented.has(n))).to.deep.equal([]);
    });
  });
});
