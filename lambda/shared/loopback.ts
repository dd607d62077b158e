/**
 * The one loopback rule. Plain http is allowed only where traffic cannot leave
 * the machine: for the URLs this server is configured with (the local stack's
 * authorization server, Tavily stand-in and DynamoDB), for the registration
 * endpoint it proxies to, for the loopback redirect URIs native apps register
 * (RFC 8252 section 7.3; the MCP authorization spec defers to it), and for
 * `localhost:*` browser origins.
 *
 * Loopback is:
 * - any IPv4 address in 127.0.0.0/8 (RFC 1122 section 3.2.1.3 reserves the whole
 *   block; a client may listen on 127.0.0.2 as well as on 127.0.0.1);
 * - the IPv6 address ::1, bracketed as URLs write it or bare as sockets do;
 * - the name `localhost`, which RFC 6761 section 6.3 reserves for loopback.
 *
 * Nothing else, on purpose:
 * - not `*.localhost` nor `localhost.`: RFC 6761 only asks resolvers to answer
 *   them with loopback, and some send them to DNS, so http there may leave the
 *   machine;
 * - not `0.0.0.0` (every interface) nor `::ffff:127.0.0.1` (an IPv4-mapped
 *   address, which a dual-stack socket may route but RFC 8252 does not name);
 * - not the shorthand forms (`127.1`, `0x7f.1`, `2130706433`): a host is matched
 *   as the WHATWG URL parser writes `URL.hostname`, which expands them. Callers
 *   that must also refuse a shorthand as written (the registration policy, whose
 *   URIs another parser reads next) check the written form themselves.
 */

/** A dotted-quad IPv4 address in 127.0.0.0/8, each octet decimal without leading zeros. */
const IPV4_LOOPBACK = /^127(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** Whether `host` (a URL's `hostname`, or a bare address or name) is loopback. Case does not matter. */
export function isLoopbackHost(host: string): boolean {
  const name = host.toLowerCase();
  return name === 'localhost' || name === '[::1]' || name === '::1' || IPV4_LOOPBACK.test(name);
}
