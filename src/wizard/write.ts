// Writes the wizard's result: host keys first, then the inventory in one atomic step, so an
// inventory that exists is always complete and never half-written.
import { writeWhole } from '../util/write-file.ts';
import { appendKnownHost } from '../ssh/known-hosts.ts';
import { err, ok, oshaError, type Result } from '../util/result.ts';
import type { AcceptedHostKey } from './flow.ts';

export interface WriteRequest {
  out: string;
  text: string;
  /** True only when the operator confirmed replacing an existing file. */
  overwrite: boolean;
  knownHostsFile: string;
  acceptedKeys: AcceptedHostKey[];
}

export async function writeWizardOutput(req: WriteRequest): Promise<Result<void>> {
  try {
    for (const k of req.acceptedKeys) await appendKnownHost(req.knownHostsFile, k.host, k.port, k.blob);
  } catch (e) {
    return err(oshaError(`cannot add host keys to ${req.knownHostsFile}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { fix: 'check that folder exists and is writable, or choose another known_hosts file' }));
  }
  try {
    await writeWhole(req.out, req.text, { overwrite: req.overwrite });
    return ok(undefined);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return err(oshaError(`${req.out} appeared while the wizard ran; it was not replaced`, { fix: 'run osha init again with another --out' }));
    return err(oshaError(`cannot write ${req.out}: ${code ?? String(e)}`, { fix: 'check that the folder exists and is writable' }));
  }
}
