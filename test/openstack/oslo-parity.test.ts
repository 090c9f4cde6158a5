// The editor reads files the way oslo.config does: checked against oslo.config itself (Debian's
// python3-oslo.config), on the real packaged files of Debian bookworm and trixie, on the
// rewritten ones and on tricky input.
// This is also what proves that after a rewrite the services read the VIP values.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { entries, parseIni, setValue, serializeIni } from '../../src/render/ini.ts';
import { changedLines } from '../../src/render/diff.ts';
import { applyRewrites, planRewrites, SERVICE_CONFIG_FILES, type OpenStackService } from '../../src/openstack/rewrites.ts';
import { onTeardown } from '../support/teardown.ts';
import { DEBIAN_RELEASES, debianConfigs, type DebianRelease } from './debian-configs.ts';
import { labInventory, VIP } from './fixtures.ts';

const run = promisify(execFile);
// Debian's interpreter, where python3-oslo.config installs (a pyenv python3 on PATH would not see it).
const PYTHON = '/usr/bin/python3';

// Parses a file with oslo.config's own parser and prints {group: {key: [values]}}, with group
// names normalised the way oslo.config looks them up.
const OSLO_DUMP = [
  'import json, sys',
  'from oslo_config import cfg',
  'parser = cfg.ConfigParser(sys.argv[1], {})',
  'parser._normalized = {}',
  'parser.parse()',
  'print(json.dumps(parser._normalized))',
].join('\n');

type Groups = Record<string, Record<string, string[]>>;

async function osloRead(path: string): Promise<Groups> {
  const { stdout } = await run(PYTHON, ['-c', OSLO_DUMP, path], { maxBuffer: 64 * 1024 * 1024 });
  return JSON.parse(stdout) as Groups;
}

function oshaRead(text: string): Groups {
  const out: Groups = {};
  const doc = parseIni(text);
  for (const l of doc.lines) if (l.kind === 'section') out[l.section!] ??= {};
  for (const e of entries(doc)) ((out[e.section] ??= {})[e.key] ??= []).push(e.value);
  return out;
}

describe('INI editor agrees with oslo.config', function () {
  this.timeout(300_000);
  let dir: string;
  let files: Record<string, string>;
  const releaseFiles = new Map<DebianRelease, Record<string, string>>();

  before(async function () {
    const probe = await run(PYTHON, ['-c', 'import oslo_config']).then(
      () => true,
      () => false,
    );
    if (!existsSync(PYTHON) || !probe) {
      throw new Error(`${PYTHON} cannot import oslo_config: install the Debian package python3-oslo.config (listed in .ci/apt-packages)`);
    }
    for (const release of DEBIAN_RELEASES) releaseFiles.set(release, await debianConfigs(release));
    files = releaseFiles.get('bookworm')!;
    dir = mkdtempSync(join(tmpdir(), 'osha-oslo-'));
    onTeardown(() => rmSync(dir, { recursive: true, force: true }));
  });

  async function compare(name: string, text: string): Promise<Groups> {
    const path = join(dir, name);
    writeFileSync(path, text);
    const oslo = await osloRead(path);
    expect(oshaRead(text)).to.deep.equal(oslo);
    return oslo;
  }

  for (const release of DEBIAN_RELEASES) {
    it(`on every packaged file of ${release}`, async () => {
      const packaged = Object.entries(releaseFiles.get(release)!);
      expect(packaged.length).to.be.greaterThan(0);
      for (const [file, text] of packaged) await compare(`${release}${file.replaceAll('/', '_')}`, text);
    });
  }

  it('on tricky input: continuations, quotes, ":" separators, repeated keys and sections, CRLF', async () => {
    const text = [
      '[DEFAULT]',
      'a = 1',
      'a = 2',
      'list = x,',
      '  y,',
      '\tz',
      'colon: http://h:1/p=q',
      'q = "quoted"',
      "s = 'single' ",
      'empty =',
      '; semicolon comment',
      '[Database]',
      'connection = mysql://u:p@h/db',
      '[database]',
      'max_pool_size = 3',
      '[database]',
      'connection = mysql://u:p@v/db\r',
      '',
    ].join('\n');
    await compare('tricky.conf', text);
  });

  for (const release of DEBIAN_RELEASES) {
    it(`after the rewrite of ${release}'s files, oslo.config reads the VIP for every rewritten option`, async () => {
      const inv = labInventory();
      const packaged = releaseFiles.get(release)!;
      for (const service of ['glance', 'nova', 'neutron', 'cinder', 'heat'] as OpenStackService[]) {
        const file = SERVICE_CONFIG_FILES[service][0]!;
        const plan = planRewrites(inv, service, { [file]: packaged[file]! });
        if (!plan.ok) throw new Error(plan.error.message);
        const applied = applyRewrites(plan.value, { [file]: packaged[file]! });
        if (!applied.ok) throw new Error(applied.error.message);
        const oslo = await compare(`${release}-${service}-rewritten.conf`, applied.value[0]!.after);
        expect(plan.value.entries.length).to.be.greaterThan(0);
        for (const e of plan.value.entries) {
          const group = e.section === 'DEFAULT' ? e.section : e.section.toLowerCase();
          const values = oslo[group]?.[e.key];
          expect(values?.[values.length - 1], `${release} ${service} [${e.section}] ${e.key}`).to.equal(e.value);
          expect(e.value).to.contain(VIP);
        }
      }
    });
  }

  it('random set operations change one line each, and oslo.config sees exactly those values', async () => {
    const file = '/etc/glance/glance-api.conf';
    const original = files[file]!;
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    // Keys that exist (set or only as commented defaults) in real sections, plus a new section.
    const doc0 = parseIni(original);
    const commented = doc0.lines.filter((l) => l.kind === 'comment' && /^#[a-z_]+ = /.test(l.text) && l.section);
    const expected = await compare('glance-original.conf', original);
    let text = original;
    for (let i = 0; i < 25; i++) {
      const pick = commented[rand(commented.length)]!;
      const key = /^#([a-z_]+) = /.exec(pick.text)![1]!;
      const section = i % 10 === 9 ? `osha_new_${i}` : pick.section!;
      const value = `v${i}-${rand(1000)}`;
      const next = serializeIni(setValue(parseIni(text), section, key, value).doc);
      const diff = changedLines(text, next);
      const added = diff.filter((l) => l.op === '+').length;
      const removed = diff.filter((l) => l.op === '-').length;
      const wasSet = (expected[section]?.[key] ?? []).length > 0;
      // Set: one line replaced. New key: one line added. New section: blank, header, key.
      if (wasSet) expect([removed, added], `${section}.${key}`).to.deep.equal([1, 1]);
      else if (section.startsWith('osha_new_')) expect([removed, added]).to.deep.equal([0, 3]);
      else expect([removed, added], `${section}.${key}`).to.deep.equal([0, 1]);
      const values = ((expected[section] ??= {})[key] ??= []);
      if (values.length === 0) values.push(value);
      else values[values.length - 1] = value;
      text = next;
    }
    await compare('glance-edited.conf', text).then((oslo) => expect(oslo).to.deep.equal(expected));
  });
});
