import { expect } from 'chai';
import { editIni, entries, getValue, hasCommentedDefault, IniEditError, parseIni, serializeIni, setValue, unsetValue } from '../../src/render/ini.ts';
import { changedLines } from '../../src/render/diff.ts';

const roundTrip = (text: string) => serializeIni(parseIni(text));

describe('ini editor: lossless line model', () => {
  const tricky = [
    '',
    'no newline at end',
    '[DEFAULT]\r\nkey = v\r\n',
    '[DEFAULT]\nmixed = 1\r\nold_mac = 2\rlast=3',
    '\uFEFF[DEFAULT]\nbom = yes\n',
    '  indented before any key\n[a]\nk = 1\n    continued\n\tmore\n\n   stray indent\n',
    '[broken\nnot an assignment\n= no key\n[ok]\n; semicolon comment\n# hash comment\nk: colon\n',
    '[DEFAULT]\nk = "quoted"\nk2 = \'single\'   \n\n\n\n',
  ];
  for (const t of tricky) {
    it(`serialises ${JSON.stringify(t).slice(0, 40)} byte for byte`, () => {
      expect(roundTrip(t)).to.equal(t);
    });
  }

  it('classifies lines as oslo.config does', () => {
    const doc = parseIni('[a]\nk = 1\n  cont\n\n  stray\n# c\nbad line\n');
    expect(doc.lines.map((l) => l.kind)).to.deep.equal(['section', 'entry', 'continuation', 'blank', 'other', 'comment', 'other']);
  });
});

describe('ini editor: reading', () => {
  const text = [
    '[DEFAULT]',
    'debug = false',
    '[Database]',
    'connection = sqlite://',
    '[database]',
    'connection = mysql://a',
    '[default]',
    'debug = true',
    '[x]',
    'list = a,',
    '  b',
    'url: http://h:1/p=q',
    'q = "quoted value"',
    'Case = upper',
    '',
  ].join('\n');
  const doc = parseIni(text);

  it('takes the last assignment, merging sections whose names differ only in case', () => {
    expect(getValue(doc, 'database', 'connection')).to.equal('mysql://a');
    expect(getValue(doc, 'DATABASE', 'connection')).to.equal('mysql://a');
  });
  it('keeps DEFAULT apart from a section named "default"', () => {
    expect(getValue(doc, 'DEFAULT', 'debug')).to.equal('false');
    expect(getValue(doc, 'default', 'debug')).to.equal('true');
  });
  it('splits at the first "=" or ":" and joins continuation lines', () => {
    expect(getValue(doc, 'x', 'url')).to.equal('http://h:1/p=q');
    expect(getValue(doc, 'x', 'list')).to.equal('a,\nb');
  });
  it('drops matching quotes and treats keys as case-sensitive', () => {
    expect(getValue(doc, 'x', 'q')).to.equal('quoted value');
    expect(getValue(doc, 'x', 'case')).to.equal(undefined);
    expect(getValue(doc, 'x', 'Case')).to.equal('upper');
  });
  it('lists every entry in order', () => {
    expect(entries(doc).map((e) => `${e.section}.${e.key}`)).to.deep.equal([
      'DEFAULT.debug',
      'database.connection',
      'database.connection',
      'default.debug',
      'x.list',
      'x.url',
      'x.q',
      'x.Case',
    ]);
  });
});

describe('ini editor: writing', () => {
  const base = ['# top comment', '[DEFAULT]', '# the default:', '#bind_host = 0.0.0.0', '', 'debug=false', '', '[database]', '#connection = <None>', ''].join('\n');

  it('changes an existing value in place, keeping the spacing around "="', () => {
    const out = editIni(base, [{ section: 'DEFAULT', key: 'debug', value: 'true' }]);
    expect(out.changed).to.equal(true);
    expect(changedLines(base, out.text).map((l) => l.op + l.text)).to.deep.equal(['-debug=false\n', '+debug=true\n']);
  });

  it('puts a new key right after its commented-out default and leaves the comment alone', () => {
    const out = editIni(base, [{ section: 'DEFAULT', key: 'bind_host', value: '198.18.0.100' }]);
    const lines = out.text.split('\n');
    expect(lines.indexOf('bind_host = 198.18.0.100')).to.equal(lines.indexOf('#bind_host = 0.0.0.0') + 1);
    expect(changedLines(base, out.text).map((l) => l.op + l.text)).to.deep.equal(['+bind_host = 198.18.0.100\n']);
  });

  it('puts a key with no commented default after the last assignment of the section', () => {
    const out = editIni(base, [{ section: 'DEFAULT', key: 'my_ip', value: '198.18.0.11' }]);
    expect(out.text).to.contain('debug=false\nmy_ip = 198.18.0.11\n');
  });

  it('creates a missing section at the end, terminating a last line that had no newline', () => {
    const text = '[DEFAULT]\ndebug = true';
    const out = editIni(text, [{ section: 'glance', key: 'api_servers', value: 'http://198.18.0.100:9292' }]);
    expect(out.text).to.equal('[DEFAULT]\ndebug = true\n\n[glance]\napi_servers = http://198.18.0.100:9292\n');
  });

  it('writes new lines with the file\'s own line ending', () => {
    const text = '[DEFAULT]\r\ndebug = true\r\n';
    const out = editIni(text, [
      { section: 'DEFAULT', key: 'bind_host', value: '198.18.0.100' },
      { section: 'new', key: 'k', value: 'v' },
    ]);
    expect(out.text).to.equal('[DEFAULT]\r\ndebug = true\r\nbind_host = 198.18.0.100\r\n\r\n[new]\r\nk = v\r\n');
  });

  it('changes only the effective (last) one of repeated keys', () => {
    const text = '[DEFAULT]\nk = 1\nk = 2\n';
    const out = editIni(text, [{ section: 'DEFAULT', key: 'k', value: '3' }]);
    expect(out.text).to.equal('[DEFAULT]\nk = 1\nk = 3\n');
  });

  it('edits the last of several same-named sections', () => {
    const text = '[database]\nidle_timeout = 5\n[DEFAULT]\nx = 1\n[Database]\nmax_pool_size = 3\n';
    const out = editIni(text, [{ section: 'database', key: 'connection', value: 'mysql://h/db' }]);
    expect(out.text).to.equal('[database]\nidle_timeout = 5\n[DEFAULT]\nx = 1\n[Database]\nmax_pool_size = 3\nconnection = mysql://h/db\n');
  });

  it('keeps quotes around a value it replaces, and replaces continuation lines', () => {
    const text = '[a]\nq = "old"\nl = x,\n  y\nz = 1\n';
    const out = editIni(text, [
      { section: 'a', key: 'q', value: 'new' },
      { section: 'a', key: 'l', value: 'w' },
    ]);
    expect(out.text).to.equal('[a]\nq = "new"\nl = w\nz = 1\n');
  });

  it('is a no-op when the value is already set', () => {
    const out = editIni(base, [{ section: 'DEFAULT', key: 'debug', value: 'false' }]);
    expect(out).to.deep.equal({ text: base, changed: false });
    const doc = parseIni(base);
    expect(setValue(doc, 'DEFAULT', 'debug', 'false').doc).to.equal(doc);
  });

  it('unsets every assignment of a key, continuation lines included', () => {
    const doc = parseIni('[a]\nk = 1\n  more\nj = 2\nk = 3\n');
    const out = unsetValue(doc, 'a', 'k');
    expect(out.changed).to.equal(true);
    expect(serializeIni(out.doc)).to.equal('[a]\nj = 2\n');
    expect(unsetValue(out.doc, 'a', 'k').changed).to.equal(false);
  });

  it('refuses values oslo.config could not read back', () => {
    const doc = parseIni(base);
    expect(() => setValue(doc, 'DEFAULT', 'k', 'a\nb')).to.throw(IniEditError, /line break/);
    expect(() => setValue(doc, 'DEFAULT', 'k', ' padded')).to.throw(IniEditError, /spaces/);
    expect(() => setValue(doc, 'DEFAULT', 'bad key', 'v')).to.throw(IniEditError, /option name/);
  });

  it('finds commented-out defaults only in their own section', () => {
    const doc = parseIni(base);
    expect(hasCommentedDefault(doc, 'database', 'connection')).to.equal(true);
    expect(hasCommentedDefault(doc, 'DEFAULT', 'connection')).to.equal(false);
  });
});
