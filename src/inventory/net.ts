// Small address arithmetic for inventory checks (IPv4 and IPv6), no dependencies.
import { isIP } from 'node:net';

/** The address as a big integer, or undefined when it is not an IP address. */
export function addressToBigInt(address: string): bigint | undefined {
  const family = isIP(address);
  if (family === 4) {
    return address.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
  }
  if (family === 6) {
    let text = address;
    // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hex groups.
    const v4 = text.match(/(\d+\.\d+\.\d+\.\d+)$/);
    if (v4?.[1]) {
      const n = addressToBigInt(v4[1]) ?? 0n;
      text = text.slice(0, -v4[1].length) + `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
    }
    const [head = '', tail] = text.split('::');
    const headGroups = head ? head.split(':') : [];
    const tailGroups = tail ? tail.split(':') : [];
    const missing = 8 - headGroups.length - tailGroups.length;
    const groups = tail === undefined ? headGroups : [...headGroups, ...Array<string>(missing).fill('0'), ...tailGroups];
    return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g || '0', 16)), 0n);
  }
  return undefined;
}

/** True when both addresses are of one family and share the first `prefix` bits. */
export function sameSubnet(a: string, b: string, prefix: number): boolean {
  const family = isIP(a);
  if (family === 0 || family !== isIP(b)) return false;
  const bits = family === 4 ? 32 : 128;
  if (prefix > bits) return false;
  const x = addressToBigInt(a);
  const y = addressToBigInt(b);
  if (x === undefined || y === undefined) return false;
  const shift = BigInt(bits - prefix);
  return x >> shift === y >> shift;
}
