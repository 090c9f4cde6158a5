// Each node's launcher moves itself into its own cgroup before starting systemd-nspawn: with
// --keep-unit nspawn uses the cgroup it runs in, so nodes sharing one cgroup would see (and kill)
// each other's units. Hosts differ: pure cgroup2, or hybrid (name=systemd v1 + cgroup2 "unified").
import { existsSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The hierarchy roots a node's cgroup must exist in, for this host's cgroup layout. */
export function cgroupRoots(): string[] {
  if (existsSync('/sys/fs/cgroup/cgroup.controllers')) return ['/sys/fs/cgroup'];
  const roots: string[] = [];
  if (existsSync('/sys/fs/cgroup/systemd/cgroup.procs')) roots.push('/sys/fs/cgroup/systemd');
  if (existsSync('/sys/fs/cgroup/unified/cgroup.procs')) roots.push('/sys/fs/cgroup/unified');
  return roots;
}

/** Sub-directories of a cgroup, deepest first, the cgroup itself last. */
function treeDeepestFirst(dir: string): string[] {
  let out: string[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
  } catch {
    return [];
  }
  for (const e of entries) out = out.concat(treeDeepestFirst(join(dir, e)));
  out.push(dir);
  return out;
}

/** PIDs of every process in the cgroup tree (in any of the roots). */
export function cgroupPids(roots: string[], cgroup: string): number[] {
  const pids = new Set<number>();
  for (const root of roots) {
    for (const dir of treeDeepestFirst(join(root, cgroup))) {
      try {
        for (const line of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n')) if (line.trim()) pids.add(Number(line));
      } catch {
        // Removed while we read it.
      }
    }
  }
  return [...pids];
}

/** Kills every process of the cgroup tree: cgroup.kill where the kernel has it, else PID by PID. */
export function killCgroup(roots: string[], cgroup: string): void {
  for (const root of roots) {
    const killFile = join(root, cgroup, 'cgroup.kill');
    if (existsSync(killFile)) {
      try {
        writeFileSync(killFile, '1');
      } catch {
        // Fall through to the PID sweep below.
      }
    }
  }
  for (const pid of cgroupPids(roots, cgroup)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/** Removes the (empty) cgroup tree; returns the directories that could not be removed. */
export function removeCgroup(roots: string[], cgroup: string): string[] {
  const left: string[] = [];
  for (const root of roots) {
    for (const dir of treeDeepestFirst(join(root, cgroup))) {
      try {
        rmdirSync(dir);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') left.push(dir);
      }
    }
  }
  return left;
}

/** Removes a parent cgroup (e.g. the lab's) only when it is empty. */
export function removeEmptyCgroup(roots: string[], cgroup: string): void {
  for (const root of roots) {
    try {
      rmdirSync(join(root, cgroup));
    } catch {
      // Not empty or not there: leave it.
    }
  }
}
