/**
 * The one loopback rule: 127.0.0.0/8, ::1 and `localhost`, matched as the WHATWG
 * URL parser writes a host. Each case goes through `new URL(...).hostname` as the
 * callers do, and where it makes sense also as a bare address, as sockets take it.
 */
import { isLoopbackHost } from '../../../lambda/shared/loopback.js';

const hostOf = (authority: string) => new URL(`http://${authority}/`).hostname;

describe('loopback', () => {
  test.each([
    ['127.0.0.1', '127.0.0.1'],
    ['the top of 127.0.0.0/8', '127.255.255.255'],
    ['another address of the block', '127.0.0.2:8080'],
    ['a shorthand the parser expands (127.1 is 127.0.0.1)', '127.1'],
    ['IPv6 ::1', '[::1]:6274'],
    ['IPv6 ::1 written long (the parser compresses it)', '[0:0:0:0:0:0:0:1]'],
    ['localhost', 'localhost:10000'],
    ['LOCALHOST (the parser lower-cases it)', 'LOCALHOST'],
  ])('%s: %s', (_why, authority) => {
    expect(isLoopbackHost(hostOf(authority))).toBe(true);
  });

  test.each(['127.0.0.1', '127.255.255.255', '::1', '[::1]', 'localhost', 'LOCALHOST', 'LocalHost'])('bare %s', (host) => {
    expect(isLoopbackHost(host)).toBe(true);
  });
});

describe('not loopback', () => {
  test.each([
    ['every interface', '0.0.0.0'],
    ['an IPv4-mapped IPv6 loopback', '[::ffff:127.0.0.1]'],
    ['localhost with a trailing dot (may go to DNS)', 'localhost.'],
    ['a subdomain of localhost (may go to DNS)', 'app.localhost'],
    ['a name that starts with localhost', 'localhost.evil.example'],
    ['a name that ends with localhost', 'evillocalhost'],
    ['a name embedding 127.0.0.1', '127.0.0.1.nip.io'],
    ['the address next to the block', '128.0.0.1'],
    ['a private address', '10.0.0.1'],
    ['the IPv6 unspecified address', '[::]'],
    ['a public name', 'example.com'],
  ])('%s: %s', (_why, authority) => {
    expect(isLoopbackHost(hostOf(authority))).toBe(false);
  });

  test.each([
    ['a shorthand as written, unparsed', '127.1'],
    ['an octet out of range', '127.0.0.256'],
    ['a leading zero', '127.0.0.01'],
    ['three octets', '127.0.0'],
    ['an IPv4-mapped address, bare', '::ffff:127.0.0.1'],
    ['::1 with a zone', '::1%lo'],
    ['empty', ''],
  ])('bare %s: %s', (_why, host) => {
    expect(isLoopbackHost(host)).toBe(false);
  });
});
