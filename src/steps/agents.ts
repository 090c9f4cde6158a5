// Step: osha's OCF agents (playbooks/agents/) on every node, uploaded only when a checksum
// differs, then proven loadable by Pacemaker (crm_resource --show-metadata): every agent on one
// node per Pacemaker build and OCF library, one agent on each other node (src/agents/files.ts).
import type { Action, HostPlan, Step } from '../runner/types.ts';
import { eachHost } from './common.ts';
import {
  agentCheckScript,
  agentFiles,
  planAgentChecks,
  readAgentNodeFacts,
  verifyCommand,
  AGENT_DIR,
  CHECKED_MARK,
  LIBRARY_DIR,
  type AgentFile,
  type AgentNodeFacts,
  type AgentNodePlan,
} from '../agents/files.ts';
import type { HostConnection } from '../ssh/connection.ts';
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
  title: `osha's OCF agents in ${AGENT_DIR}, checked by Pacemaker`,
  async plan(ctx) {
    const files = await localAgents();
    if (!files.ok) return new Map(ctx.hosts.map((h) => [h, files]));
    const read = await eachHost(ctx, async (h) => {
      const facts = await readAgentNodeFacts(h.c, files.value);
      return facts.ok ? ok({ c: h.c, facts: facts.value }) : facts;
    });
    // The check is planned across the nodes that answered; the others carry their error.
    const answered = new Map<string, AgentNodeFacts>();
    ctx.hosts.forEach((host, i) => {
      const r = read[i]!;
      if (r.ok) answered.set(host, r.value.facts);
    });
    const plans = planAgentChecks(files.value, answered);
    return new Map(
      ctx.hosts.map((host, i): [string, HostPlan] => {
        const r = read[i]!;
        return [host, r.ok ? ok(actionsFor(host, r.value.c, plans.get(host)!)) : r];
      }),
    );
  },
};

function actionsFor(host: string, c: HostConnection, p: AgentNodePlan): Action[] {
  if (p.upload.length === 0 && p.check.length === 0) return [];
  const mkdir = sh`mkdir -p ${AGENT_DIR} ${LIBRARY_DIR}`;
  const check = agentCheckScript(p.check, p.record);
  const what = p.checkedOn
    ? `Pacemaker loads ${p.check.join(', ')} (every agent is checked on ${p.checkedOn}: same Pacemaker and OCF library)`
    : `Pacemaker loads each of the ${count(p.check.length, 'agent')}`;
  const commands = [...p.check.map(verifyCommand), `record the check in ${CHECKED_MARK}`];
  if (p.upload.length === 0) {
    return [{
      summary: `check that ${what}: no record of a check against this node's Pacemaker and OCF library`,
      commands,
      apply: async () => {
        const r = await c.exec(check, { timeoutMs: 120_000 });
        if (!r.ok) return r;
        return r.value.code === 0 ? ok(undefined) : err({ host, message: `Pacemaker cannot use osha's agents: ${r.value.stderr.trim()}` });
      },
    }];
  }
  return [{
    summary: `upload ${count(p.upload.length, 'agent file')} in one transfer (${p.upload.map((f) => f.name).join(', ')}), then check that ${what}`,
    commands: [mkdir, ...p.upload.map((f) => `upload ${f.remotePath} (mode ${f.mode.toString(8)}, sha256 ${f.sha256.slice(0, 12)})`), ...commands],
    apply: async () => {
      // One exec: every file written aside and verified, renamed in order (the library first,
      // so a node never has an agent without what it sources), then checked and recorded.
      const r = await c.uploadMany(
        p.upload.map((f) => ({ path: f.remotePath, content: f.content, mode: f.mode, owner: 'root', group: 'root' })),
        { before: mkdir, after: check, timeoutMs: 120_000 },
      );
      if (!r.ok) return r;
      if (r.value.code !== 0) return err({ host, message: `Pacemaker cannot use osha's agents: ${r.value.stderr.trim()}` });
      return ok(undefined);
    },
  }];
}
