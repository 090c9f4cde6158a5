// Preflight's node facts from the raw output of its one-round-trip scripts, as a Debian 12 lab
// node printed them (corosync 3.1.7, iproute2, ss).
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { parseAuthkeyFacts, parseStackFacts } from '../../src/facts/cluster.ts';
import { parsePreflightFacts } from '../../src/facts/host.ts';

const RUNNING = `Corosync Cluster Engine, version '3.1.7'
Copyright (c) 2006-2021 Red Hat, Inc.

Built-in features: dbus monitoring watchdog augeas systemd xmlconf vqsim nozzle snmp pie relro bindnow
--- units ---
ActiveState=active
UnitFileState=enabled

ActiveState=active
UnitFileState=disabled
--- cmap ---
totem.cluster_name (str) = osha-lab
nodelist.node.0.name (str) = node1
nodelist.node.0.nodeid (u32) = 1
`;

describe('preflight facts', () => {
  it("reads corosync's version, both units and the loaded cmap from one output", () => {
    const f = parseStackFacts(RUNNING);
    expect(f).to.include({ corosyncVersion: '3.1.7', corosyncActive: true, corosyncEnabled: true, pacemakerActive: true, pacemakerEnabled: false });
    expect(f.loaded?.get('totem.cluster_name')).to.equal('osha-lab');
    expect(f.loaded?.get('nodelist.node[0].nodeid')).to.equal('1');
  });

  it('takes no cmap when systemd does not call corosync active, and nothing from a node without corosync', () => {
    const stopped = RUNNING.replace('ActiveState=active\nUnitFileState=enabled', 'ActiveState=inactive\nUnitFileState=enabled');
    expect(parseStackFacts(stopped)).to.include({ corosyncActive: false, loaded: undefined });
    const bare = '--- units ---\nActiveState=inactive\nUnitFileState=\n\nActiveState=inactive\nUnitFileState=\n--- cmap ---\n';
    expect(parseStackFacts(bare)).to.deep.equal({ loaded: undefined, corosyncVersion: undefined, corosyncActive: false, pacemakerActive: false, corosyncEnabled: false, pacemakerEnabled: false });
  });

  const q = { vip: '198.18.150.100', agentNames: ['keystone', 'glance-api'], ownMarkers: ['osha-agent'] };
  const probe = (sockets: string, addresses: string, answers: string, heads = '') =>
    `--- udp listeners ---\n${sockets}--- addresses ---\n${addresses}--- vip probe ---\nvip_answers=${answers}\n--- agent heads ---\n${heads}`;
  const ADDRS = `1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
2: eth0    inet 198.18.150.12/24 scope global eth0\\       valid_lft forever preferred_lft forever
`;

  it("names the corosync port's listener and whether this node holds the VIP", () => {
    const f = parsePreflightFacts(probe('UNCONN 0      0      198.18.150.12:5405 0.0.0.0:* users:(("corosync",pid=1021,fd=29))\n', ADDRS, 'no'), q);
    expect(f).to.deep.equal({ portOwner: 'corosync', vipLocal: false, vipAnswers: 'no', foreignAgents: [] });
    const holder = parsePreflightFacts(probe('', `${ADDRS}2: eth0    inet 198.18.150.100/24 scope global secondary eth0\\       valid_lft forever\n`, 'yes'), q);
    expect(holder).to.deep.equal({ portOwner: '', vipLocal: true, vipAnswers: 'yes', foreignAgents: [] });
    // 198.18.150.10 is not 198.18.150.100: the address is matched up to its prefix length.
    expect(parsePreflightFacts(probe('', `${ADDRS}2: eth0    inet 198.18.150.10/24 scope global secondary eth0\n`, 'maybe'), q)).to.include({ vipLocal: false, vipAnswers: 'unknown' });
  });

  it('lists agents under osha names whose head carries no osha marker', () => {
    const heads = '==> keystone <==\n#!/bin/sh\n# osha-agent keystone\n\n==> glance-api <==\n#!/bin/sh\n# OpenStack Glance API (from openstack-resource-agents)\n';
    expect(parsePreflightFacts(probe('', ADDRS, 'no', heads), q).foreignAgents).to.deep.equal(['glance-api']);
  });

  it("reads the authkey's checksum, mode and owner from sha256sum's and stat's own lines", () => {
    const dir = mkdtempSync(join(tmpdir(), 'osha-authkey-'));
    try {
      const key = join(dir, 'authkey');
      writeFileSync(key, Buffer.alloc(256, 7));
      chmodSync(key, 0o400);
      const out = execFileSync('sh', ['-c', `sha256sum < ${key}; stat -c 'mode=%a owner=%U:%G' -- ${key}; echo managed=1`]).toString();
      const group = execFileSync('id', ['-gn']).toString().trim();
      expect(parseAuthkeyFacts(out)).to.deep.equal({ sha256: createHash('sha256').update(Buffer.alloc(256, 7)).digest('hex'), mode: '400', owner: `${userInfo().username}:${group}`, managed: true });
      expect(parseAuthkeyFacts('')).to.deep.equal({ sha256: undefined, mode: undefined, owner: undefined, managed: false });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
