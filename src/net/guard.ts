import { BlockList, isIP } from 'node:net';
import { promises as dns } from 'node:dns';
import { MailportError } from '../core/errors.js';

/** Resolves a host name to every address it has (injectable for tests). */
export type LookupFn = (host: string) => Promise<Array<{ address: string; family: number }>>;

/**
 * Ranges a user-supplied host may never resolve to unless the operator allows them:
 * loopback, private, link-local (cloud metadata lives there), CGNAT, and the
 * unspecified, multicast and reserved blocks.
 */
const BLOCKED_V4: Array<[string, number]> = [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // CGNAT (also Alibaba's metadata 100.100.100.200)
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, cloud metadata 169.254.169.254
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
];
const BLOCKED_V6: Array<[string, number]> = [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['fc00::', 7], // unique local (AWS metadata fd00:ec2::254)
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
  ['64:ff9b::', 96], // NAT64: would reach IPv4 ranges above
];

export interface AddressGuardOptions {
  /** CIDRs (MAILPORT_ALLOW_PRIVATE_HOSTS) that are allowed even though they are in a blocked range */
  allow?: readonly string[];
  lookup?: LookupFn;
}

export interface ResolvedHost {
  /** the name the user gave (used for TLS SNI and certificate checks) */
  host: string;
  /** the address to connect to: checked, so a second DNS answer cannot swap it */
  address: string;
  family: 4 | 6;
}

const defaultLookup: LookupFn = (host) => dns.lookup(host, { all: true, verbatim: true });

function parseCidr(cidr: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } {
  const [address, prefixText] = cidr.trim().split('/');
  const v = isIP(address ?? '');
  if (!v) throw new Error(`not an IP range: ${cidr}`);
  const max = v === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) throw new Error(`bad prefix in ${cidr}`);
  return { address: address!, prefix, family: v === 4 ? 'ipv4' : 'ipv6' };
}

/** `::ffff:10.0.0.1` is the IPv4 address 10.0.0.1 for routing purposes. */
function unmap(address: string): { address: string; family: 'ipv4' | 'ipv6' } {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (m) return { address: m[1]!, family: 'ipv4' };
  return { address, family: isIP(address) === 4 ? 'ipv4' : 'ipv6' };
}

/**
 * The address guard: every user-supplied host passes it before any socket opens.
 *
 * @example
 *   const guard = new AddressGuard({ allow: ['127.0.0.0/8'] });
 *   const { address } = await guard.resolve('imap.example.com'); // connect to address, SNI = host
 */
export class AddressGuard {
  private readonly blocked = new BlockList();
  private readonly allowed = new BlockList();
  private readonly lookup: LookupFn;

  constructor(options: AddressGuardOptions = {}) {
    for (const [a, p] of BLOCKED_V4) this.blocked.addSubnet(a, p, 'ipv4');
    for (const [a, p] of BLOCKED_V6) this.blocked.addSubnet(a, p, 'ipv6');
    for (const cidr of options.allow ?? []) {
      if (!cidr.trim()) continue;
      const { address, prefix, family } = parseCidr(cidr);
      this.allowed.addSubnet(address, prefix, family);
    }
    this.lookup = options.lookup ?? defaultLookup;
  }

  /** Whether a literal address may be connected to. */
  isAllowed(address: string): boolean {
    const { address: a, family } = unmap(address);
    if (this.allowed.check(a, family)) return true;
    return !this.blocked.check(a, family);
  }

  /**
   * Resolves `host` and checks every address it has. Throws ADDRESS_BLOCKED when any of them is
   * in a blocked range (a name with one public and one private address is refused), and
   * HOST_NOT_FOUND when the name does not resolve.
   */
  async resolve(host: string): Promise<ResolvedHost> {
    const name = host.trim().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
    let addresses: Array<{ address: string; family: number }>;
    if (isIP(name)) {
      addresses = [{ address: name, family: isIP(name) }];
    } else {
      try {
        addresses = await this.lookup(name);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOTFOUND' || code === 'ENODATA' || code === 'EAI_NONAME' || code === 'ESERVFAIL' || code === 'EAI_AGAIN' || code === 'ENONAME') {
          throw new MailportError('HOST_NOT_FOUND', { message: `The server name ${name} could not be found.`, cause: err });
        }
        throw new MailportError('HOST_NOT_FOUND', { message: `The server name ${name} could not be resolved.`, cause: err });
      }
      if (addresses.length === 0) throw new MailportError('HOST_NOT_FOUND', { message: `The server name ${name} has no address.` });
    }
    for (const a of addresses) {
      if (!this.isAllowed(a.address)) {
        throw new MailportError('ADDRESS_BLOCKED', {
          message: `The server ${name} points to a private or local network address (${a.address}), which is not allowed.`,
        });
      }
    }
    const first = addresses[0]!;
    return { host: name, address: first.address, family: first.family === 6 ? 6 : 4 };
  }
}
