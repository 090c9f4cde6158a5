// Step 2: every node can resolve every other node by name, without DNS.
import type { Step } from '../runner/types.ts';
import { fileFact, planEachHost, writeFileActions } from './common.ts';
import { renderHostsBlock, withHostsBlock } from '../render/hosts.ts';
import { ok } from '../util/result.ts';

export const hostsFile: Step = {
  name: 'hosts-file',
  title: '/etc/hosts lists every node in an osha-managed block',
  plan(ctx) {
    const block = renderHostsBlock(ctx.inv);
    return planEachHost(ctx, async (h) => {
      const current = await fileFact(ctx, h, '/etc/hosts');
      if (!current.ok) return current;
      const next = withHostsBlock(current.value.content?.toString('utf8') ?? '', block);
      return ok(writeFileActions(h, '/etc/hosts', current.value, next, { mode: 0o644, backup: true, after: () => ctx.facts.forget(h.host, 'file:/etc/hosts') }));
    });
  },
};
