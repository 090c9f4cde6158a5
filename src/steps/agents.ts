// Step: osha's OCF agents (playbooks/agents/) on every node, uploaded only when a checksum
// differs, each uploaded agent then proven loadable by Pacemaker (crm_resource --show-metadata).
import type { Action, Step } from '../runner/types.ts';
import { planEachHost } from './common.ts';
import { agentFiles, filesToUpload, verifyCommand, AGENT_DIR, LIBRARY_DIR, type AgentFile } from '../agents/files.ts';
import { readChecksums } from '../facts/host.ts';
import { sh } from '../ssh/quote.ts';
import { err, ok, messageOf, type Result } from '../util/result.ts';
import { count } from '../util/text.ts';

let cached: Promise<Result<AgentFile[]>> | undefined;
function localAgents(): Promise<Result<AgentFile[]>> {
  cached ??= agentFiles().then(
    (f) => ok(f),
    (e) => err({ message: `cannot read the agents to upload: ${messageOf(e)}` }),
  );
  return cached;
}

export const agents: Step = {
  name: 'agents',
  title: `osha's OCF agents in ${AGENT_DIR}, each checked by Pacemaker`,
  async plan(ctx) {
    const files = await localAgents();
    return planEachHost(ctx, async (h) => {
      if (!files.ok) return files;
      const sums = await readChecksums(h.c, files.value.map((f) => f.remotePath));
      if (!sums.ok) return sums;
      const changed = filesToUpload(files.value, sums.value);
      if (changed.length === 0) return ok([]);
      const toVerify = changed.filter((f) => f.kind !== 'library').map((f) => f.name);
      const action: Action = {
        summary: `upload ${count(changed.length, 'agent file')}: ${changed.map((f) => f.name).join(', ')}`,
        commands: [sh`mkdir -p ${AGENT_DIR} ${LIBRARY_DIR}`, ...changed.map((f) => `upload ${f.remotePath} (mode ${f.mode.toString(8)}, sha256 ${f.sha256.slice(0, 12)})`), ...toVerify.map(verifyCommand)],
        apply: async () => {
          const mk = await h.c.run(sh`mkdir -p ${AGENT_DIR} ${LIBRARY_DIR}`);
          if (!mk.ok) return mk;
          // The library first, so a node never has an agent without what it sources.
          for (const f of changed) {
            const r = await h.c.upload(f.remotePath, f.content, { mode: f.mode, owner: 'root', group: 'root' });
            if (!r.ok) return r;
          }
          if (toVerify.length === 0) return ok(undefined);
          const check = await h.c.exec(
            sh`bad=''; for a in ${toVerify}; do crm_resource --show-metadata "ocf:openstack:$a" 2>/dev/null | grep -q '<resource-agent' || bad="$bad $a"; done; [ -z "$bad" ] || { echo "no valid meta-data from:$bad" >&2; exit 1; }`,
          );
          if (!check.ok) return check;
          if (check.value.code !== 0) return err({ host: h.host, message: `Pacemaker cannot use uploaded agents: ${check.value.stderr.trim()}` });
          return ok(undefined);
        },
      };
      return ok([action]);
    });
  },
};
