import t from 'tap';
import { allowHosts, loadConfig } from '../src/config.js';
import { isSpecialAddress } from '../src/http/special-addresses.js';
import { createGuardedFetch } from '../src/http/guarded-fetch.js';
import { FetchBudget } from '../src/limits/fetch-budget.js';

t.test('special addresses', async (t) => {
  const special = [
    '127.0.0.1',
    '127.255.0.9',
    '0.0.0.0',
    '0.1.2.3',
    '10.0.0.1',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '100.127.255.255',
    '224.0.0.1',
    '239.255.255.250',
    '255.255.255.255',
    '198.18.0.1',
    '192.0.2.1',
    '::',
    '::1',
    '[::1]',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:10.0.0.1',
    '::ffff:192.168.0.1',
    'fc00::1',
    'fd12:3456::1',
    'fe80::1',
    'fe80::1%eth0',
    'ff02::1',
    '64:ff9b::a00:1',
    '2002:7f00:1::',
    '2001:db8::1',
    '2001::1',
    'not an address',
    'example.com',
  ];
  for (const address of special) t.ok(isSpecialAddress(address), `${address} is special`);
  const ordinary = [
    '93.184.216.34',
    '8.8.8.8',
    '172.32.0.1',
    '100.128.0.1',
    '192.169.0.1',
    '2606:4700::1111',
    '::ffff:8.8.8.8',
    '2a00:1450::1',
  ];
  for (const address of ordinary) t.notOk(isSpecialAddress(address), `${address} is ordinary`);
});

t.test('CLIENT_METADATA_ALLOW_HOSTS', async (t) => {
  t.same(allowHosts(undefined), []);
  t.same(allowHosts(' 127.0.0.1:8443 , Internal.Example ,[::1]:9000,host:443'), [
    '127.0.0.1:8443',
    'internal.example',
    '[::1]:9000',
    'host',
  ]);
  for (const bad of ['https://x.example', 'x.example/path', '::1', 'a b', 'host:99999']) {
    t.throws(() => allowHosts(bad), /CLIENT_METADATA_ALLOW_HOSTS must be host or host:port/, `"${bad}" is refused`);
  }
  t.same(loadConfig({ CLIENT_METADATA_ALLOW_HOSTS: 'a.example:1' }).metadataFetch.allowHosts, ['a.example:1']);
  t.equal(loadConfig({}).clientIdMetadataDocuments, true);
  t.equal(loadConfig({ CLIENT_ID_METADATA_DOCUMENTS: 'false' }).clientIdMetadataDocuments, false);
  t.throws(() => loadConfig({ CLIENT_ID_METADATA_DOCUMENTS: 'maybe' }), /CLIENT_ID_METADATA_DOCUMENTS must be true or false/);
});

t.test('the fetch budget: per host and in total', async (t) => {
  let now = 0;
  const budget = new FetchBudget({ perHostPerMinute: 2, totalPerMinute: 3, maxHosts: 2, now: () => now });
  t.ok(budget.take('a'));
  t.ok(budget.take('a'));
  t.notOk(budget.take('a'), 'a host has its own limit');
  t.ok(budget.take('b'));
  t.notOk(budget.take('c'), 'and all hosts together have one');
  now += 30_000;
  t.ok(budget.take('a'), 'refilled with time');
  now += 60_000;
  for (let i = 0; i < 10; i++) budget.take(`h${i}`);
  t.ok(budget.hostCount <= 2, 'remembered hosts stay bounded');
  now += 60_000;
  t.ok(budget.take('fresh'));
});

t.test('the guarded fetcher refuses before connecting', async (t) => {
  const fetcher = createGuardedFetch({ allowHosts: [], maxBytes: 100, timeoutMs: 1000 });
  await t.rejects(fetcher('http://93.184.216.34/'), /only https/, 'http');
  await t.rejects(fetcher('https://user:pw@93.184.216.34/'), /credentials/, 'credentials');
  await t.rejects(fetcher('https://127.0.0.1:1/'), /special-use address/, 'loopback literal');
  await t.rejects(fetcher('https://localhost:1/'), /special-use address/, 'a name that resolves to loopback');
  await t.rejects(fetcher('https://[::ffff:10.0.0.1]/'), /special-use address/, 'IPv4-mapped private');
  const limited = createGuardedFetch({ allowHosts: [], maxBytes: 100, timeoutMs: 1000, admit: () => false });
  await t.rejects(limited('https://93.184.216.34/'), /too many fetches/, 'over budget');
});
