import { isIP } from 'node:net';

/**
 * Addresses a server-side fetch must never reach on a stranger's say-so: this host (loopback,
 * unspecified), private and shared networks (RFC 1918, CGNAT 100.64/10, unique local fc00::/7),
 * link-local, multicast, documentation, benchmarking and reserved ranges, and the IPv6 forms
 * that carry an IPv4 address (mapped, compatible, NAT64, 6to4, Teredo), which are refused whole.
 */
const IPV4_RANGES: readonly [string, number][] = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
];

const IPV6_RANGES: readonly [string, number][] = [
  ['::', 96], // unspecified, loopback, IPv4-compatible
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 23], // IETF protocol assignments, Teredo among them
  ['2001:db8::', 32],
  ['2002::', 16],
  ['3fff::', 20],
  ['5f00::', 16],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
];

function ipv4Number(address: string): number {
  return address.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
}

/** The 128 bits of an IPv6 address (which isIP has accepted), a dotted IPv4 tail included. */
function ipv6Number(address: string): bigint {
  let text = address.toLowerCase().replace(/%.*$/, '');
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const v4 = ipv4Number(dotted[1]!);
    text = `${text.slice(0, -dotted[1]!.length)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return groups.reduce((n, group) => (n << 16n) | BigInt(parseInt(group || '0', 16)), 0n);
}

const V4 = IPV4_RANGES.map(([base, bits]) => ({ base: ipv4Number(base), bits }));
const V6 = IPV6_RANGES.map(([base, bits]) => ({ base: ipv6Number(base), bits: BigInt(bits) }));
const MAPPED_PREFIX = 0xffffn << 32n;

function specialIpv4(address: string): boolean {
  const n = ipv4Number(address);
  return V4.some(({ base, bits }) => Math.floor(n / 2 ** (32 - bits)) === Math.floor(base / 2 ** (32 - bits)));
}

function specialIpv6(address: string): boolean {
  const n = ipv6Number(address);
  if (n >> 32n === MAPPED_PREFIX >> 32n) {
    const v4 = Number(n & 0xffffffffn);
    return specialIpv4([v4 >>> 24, (v4 >>> 16) & 255, (v4 >>> 8) & 255, v4 & 255].join('.'));
  }
  return V6.some(({ base, bits }) => n >> (128n - bits) === base >> (128n - bits));
}

/** Whether an IP address is one of those above; anything that is not an IP address counts as special. */
export function isSpecialAddress(address: string): boolean {
  const family = isIP(address.replace(/^\[|\]$/g, ''));
  if (family === 4) return specialIpv4(address);
  if (family === 6) return specialIpv6(address.replace(/^\[|\]$/g, ''));
  return true;
}
