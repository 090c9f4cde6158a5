import { expect } from 'chai';
import { parseServiceUrl, rewriteBareHost, rewriteHostList, rewriteUrlHosts } from '../../src/openstack/url.ts';

const ours = (h: string) => ['198.18.0.11', '198.18.0.12', 'localhost', 'alice', 'fd00::11'].includes(h);
const VIP = '198.18.0.100';

describe('URL host rewriting', () => {
  it('changes only the host: user, encoded password, port, path and query stay as found', () => {
    const url = 'mysql+pymysql://glance:p%40ss%2Fw:rd@198.18.0.11:3306/glance?charset=utf8&read_timeout=5';
    expect(rewriteUrlHosts(url, ours, VIP)).to.deep.equal({
      value: 'mysql+pymysql://glance:p%40ss%2Fw:rd@198.18.0.100:3306/glance?charset=utf8&read_timeout=5',
      foreign: [],
      hostless: false,
    });
  });

  it('collapses a multi-host transport URL whose nodes all become the VIP', () => {
    const url = 'rabbit://openstack:pw@198.18.0.11:5672,openstack:pw@198.18.0.12:5672/openstack';
    expect(rewriteUrlHosts(url, ours, VIP).value).to.equal('rabbit://openstack:pw@198.18.0.100:5672/openstack');
  });

  it('keeps hosts that are not cluster nodes and reports them', () => {
    const r = rewriteUrlHosts('rabbit://u:p@198.18.0.11:5672,u:p@198.18.9.9:5672/', ours, VIP);
    expect(r.value).to.equal('rabbit://u:p@198.18.0.100:5672,u:p@198.18.9.9:5672/');
    expect(r.foreign).to.deep.equal(['198.18.9.9']);
    expect(rewriteUrlHosts('http://keystone.example:5000', ours, VIP)).to.deep.equal({ value: 'http://keystone.example:5000', foreign: ['keystone.example'], hostless: false });
  });

  it('leaves sqlite paths and unix sockets alone', () => {
    expect(rewriteUrlHosts('sqlite:////var/lib/nova/novadb', ours, VIP).hostless).to.equal(true);
    const sock = 'mysql+pymysql://nova:pw@/nova?unix_socket=/run/mysqld/mysqld.sock';
    expect(rewriteUrlHosts(sock, ours, VIP)).to.deep.equal({ value: sock, foreign: [], hostless: true });
  });

  it('handles IPv6 hosts in brackets, from and to', () => {
    expect(rewriteUrlHosts('http://[fd00::11]:5000/v3', ours, VIP).value).to.equal('http://198.18.0.100:5000/v3');
    expect(rewriteUrlHosts('http://alice:5000/v3', ours, 'fd00::100').value).to.equal('http://[fd00::100]:5000/v3');
  });

  it('parses URLs without a path or port', () => {
    expect(parseServiceUrl('http://localhost')).to.deep.equal({ scheme: 'http', netlocs: [{ userinfo: undefined, host: 'localhost', port: undefined }], rest: '' });
    expect(parseServiceUrl('not a url')).to.equal(undefined);
  });

  it('rewrites bare hosts and host lists', () => {
    expect(rewriteBareHost('198.18.0.12', ours, VIP).value).to.equal(VIP);
    expect(rewriteBareHost('db.example', ours, VIP)).to.deep.equal({ value: 'db.example', foreign: ['db.example'], hostless: false });
    expect(rewriteHostList('198.18.0.11:5672, 198.18.0.12:5672', ours, VIP).value).to.equal('198.18.0.100:5672');
    expect(rewriteHostList('http://198.18.0.11:9292,http://198.18.0.12:9292', ours, VIP).value).to.equal('http://198.18.0.100:9292');
    expect(rewriteHostList('198.18.0.11', ours, VIP).value).to.equal(VIP);
    const untouched = 'http://glance.example:9292, http://glance2.example:9292';
    expect(rewriteHostList(untouched, ours, VIP).value).to.equal(untouched);
  });
});
