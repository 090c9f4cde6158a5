// Checks that this machine can run a lab, with one clear line and a fix when it cannot.
import { which } from './exec.ts';
import { err, ok, oshaError, type Result } from '../util/result.ts';

/** Host tools the lab runs, with the Debian package that ships each. */
const TOOLS: [tool: string, pkg: string][] = [
  ['systemd-nspawn', 'systemd-container'],
  ['ip', 'iproute2'],
  ['ssh-keygen', 'openssh-client'],
  ['mount', 'mount'],
];

export interface PreflightOptions {
  /** debootstrap is only needed when the image must be built. */
  needDebootstrap: boolean;
  /** For tests: the platform and user id to judge (default: this process's). */
  platform?: NodeJS.Platform;
  uid?: number;
}

export async function preflight(opts: PreflightOptions): Promise<Result<void>> {
  const platform = opts.platform ?? process.platform;
  if (platform !== 'linux') {
    return err(
      oshaError(`osha lab needs Linux (it runs systemd-nspawn containers); this is ${platform}`, {
        fix: 'use the Vagrant lab instead: see vagrant/README.md in the osha repository',
      }),
    );
  }
  if ((opts.uid ?? process.getuid?.()) !== 0) {
    return err(oshaError('osha lab must run as root (it creates containers, mounts and network namespaces)', { fix: 'run it with sudo' }));
  }
  const tools = opts.needDebootstrap ? [...TOOLS, ['debootstrap', 'debootstrap'] as [string, string]] : TOOLS;
  const missing: [string, string][] = [];
  for (const [tool, pkg] of tools) if (!(await which(tool))) missing.push([tool, pkg]);
  if (missing.length) {
    const pkgs = [...new Set(missing.map(([, p]) => p))].join(' ');
    return err(oshaError(`missing ${missing.map(([t]) => t).join(', ')} on this host`, { fix: `apt-get install ${pkgs}` }));
  }
  return ok(undefined);
}
