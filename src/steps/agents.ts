// Step: osha's OCF agents (playbooks/agents/) on every node, uploaded only when a checksum
// differs, each uploaded agent then proven loadable by Pacemaker (crm_resource --show-metadata).
import type { Action, Step } from '../runner/types.ts';
import { planEachHost } from './common.ts';
import { agentFiles, filesToUpload, verifyCommand, AGENT_DIR, LIBRARY_DIR, type AgentFile } from '../agents/files.ts';
import { readChecksums } from '../facts/host.ts';
import { raw, sh } from '../ssh/quote.ts';
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
      // Every agent sources the library: a new library is checked through all of them.
      const libraryChanged = changed.some((f) => f.kind === 'library');
      const toVerify = (libraryChanged ? files.value : changed).filter((f) => f.kind !== 'library').map((f) => f.name);
      const mkdir = sh`mkdir -p ${AGENT_DIR} ${LIBRARY_DIR}`;
      const check = toVerify.length ? verifyScript(toVerify) : undefined;
      const action: Action = {
        summary: `upload ${count(changed.length, 'agent file')} in one transfer: ${changed.map((f) => f.name).join(', ')}`,
        commands: [mkdir, ...changed.map((f) => `upload ${f.remotePath} (mode ${f.mode.toString(8)}, sha256 ${f.sha256.slice(0, 12)})`), ...toVerify.map(verifyCommand)],
        apply: async () => {
          // One exec: every file written aside and verified, renamed in order (the library
          // first, so a node never has an agent without what it sources), then checked.
          const r = await h.c.uploadMany(
            changed.map((f) => ({ path: f.remotePath, content: f.content, mode: f.mode, owner: 'root', group: 'root' })),
            { before: mkdir, after: check, timeoutMs: 120_000 },
          );
          if (!r.ok) return r;
          if (r.value.code !== 0) return err({ host: h.host, message: `Pacemaker cannot use uploaded agents: ${r.value.stderr.trim()}` });
          return ok(undefined);
        },
      };
      return ok([action]);
    });
  },
};

/** Every agent's metadata check at once (background jobs), naming the agents that failed. */
function verifyScript(names: string[]): string {
  const one = `${verifyCommand('"$a"')} 2>/dev/null | grep -q '<resource-agent' || echo "$a"`;
  return sh`bad=$(for a in ${names}; do { ${raw(one)}; } & done; wait); [ -z "$bad" ] || { echo "no valid meta-data from:" $(printf '%s\\n' $bad | sort) >&2; exit 1; }`;
}
