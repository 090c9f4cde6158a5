// Thin wrappers around the real Pacemaker tools, run on CIB files (no cluster needed).
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { parseSimulation, type Simulation } from '../../src/cluster/transition.ts';
import { run, writeCib } from './fixtures.ts';

/** crm_verify on a CIB file; returns its output so a failure shows why. */
export function crmVerify(xml: string): { ok: boolean; output: string } {
  const r = run('crm_verify', ['--xml-file', writeCib(xml, 'verify'), '-V']);
  return { ok: r.status === 0, output: r.stdout + r.stderr };
}

export function simulate(xml: string, extra: string[] = []): Simulation {
  const r = run('crm_simulate', ['--simulate', '--xml-file', writeCib(xml, 'sim'), '--output-as=xml', ...extra]);
  expect(r.status, r.stderr).to.equal(0);
  const parsed = parseSimulation(r.stdout);
  if (!parsed.ok) throw new Error(parsed.error.message);
  return parsed.value;
}

/** The CIB after crm_simulate has run the transition: every resource started as predicted. */
export function settled(xml: string): string {
  const out = writeCib('', 'settled');
  const r = run('crm_simulate', ['--simulate', '--xml-file', writeCib(xml, 'pre'), '--save-output', out]);
  expect(r.status, r.stderr).to.equal(0);
  return readFileSync(out, 'utf8');
}

/** crm_diff's exit status (0: no difference, 1: differences) and its patch. */
export function crmDiff(original: string, next: string): { status: number | null; patch: string } {
  const r = run('crm_diff', ['--original', writeCib(original, 'orig'), '--new', writeCib(next, 'new')]);
  return { status: r.status, patch: r.stdout };
}

/** cibadmin --patch against a file-backed CIB (CIB_file), as deploy does against the live one. */
export function cibadminPatch(cibXml: string, patch: string): { status: number | null; cib: string; stderr: string } {
  const cibFile = writeCib(cibXml, 'target');
  const r = run('cibadmin', ['--patch', '--xml-file', writeCib(patch, 'patch')], { CIB_file: cibFile });
  return { status: r.status, cib: readFileSync(cibFile, 'utf8'), stderr: r.stderr };
}
