/**
 * The local stack's derived ports (local/dev-ports.ts), checked against each
 * other before anything listens: a clash is named as one, with the fix.
 */
import { ConfigurationError } from '../../../lambda/shared/settings.js';
import { devPorts, portRole, usageStorePort } from '../../../local/dev-ports.js';

const everything = { authorizationServer: true, usageStore: true };

function problems(run: () => unknown): readonly string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigurationError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigurationError');
}

test('derived from PORT: the authorization server on PORT + 1, the usage store on PORT + 2 (where npm run usage looks)', () => {
  expect(devPorts({ port: 10_000 }, everything)).toEqual({ gateway: 10_000, authorizationServer: 10_001, usageStore: 10_002 });
  expect(usageStorePort(10_000)).toBe(10_002);
  expect(devPorts({ port: 10_000, devAuthPort: 9_000 }, everything)).toEqual({ gateway: 10_000, authorizationServer: 9_000, usageStore: 10_002 });
  expect(devPorts({ port: 10_000 }, { authorizationServer: false, usageStore: false })).toEqual({ gateway: 10_000 });
  expect(devPorts({ port: 0 }, everything)).toEqual({ gateway: 0, authorizationServer: 0, usageStore: 0 });
});

test('DEV_AUTH_PORT on the usage store or the gateway is named as that clash', () => {
  expect(problems(() => devPorts({ port: 10_000, devAuthPort: 10_002 }, everything))).toEqual([
    "DEV_AUTH_PORT: 10002 is the usage store's port (PORT + 2, where npm run usage looks for it); choose another, or leave it unset for PORT + 1 (10001)",
  ]);
  expect(problems(() => devPorts({ port: 10_000, devAuthPort: 10_000 }, everything))).toEqual([
    "DEV_AUTH_PORT: 10000 is PORT, the gateway's port; choose another, or leave it unset for PORT + 1 (10001)",
  ]);
  // Without the store (quotas and cache off) PORT + 2 is free to take; without the embedded server DEV_AUTH_PORT is unused.
  expect(devPorts({ port: 10_000, devAuthPort: 10_002 }, { authorizationServer: true, usageStore: false }).authorizationServer).toBe(10_002);
  expect(devPorts({ port: 10_000, devAuthPort: 10_000 }, { authorizationServer: false, usageStore: true })).toEqual({ gateway: 10_000, usageStore: 10_002 });
});

test('a PORT whose derived ports pass 65535 is refused with the highest that works', () => {
  expect(problems(() => devPorts({ port: 65_534 }, everything))).toEqual([
    'PORT: 65534 leaves no room for the authorization server on PORT + 1 and the usage store on PORT + 2 (ports end at 65535); use a PORT up to 65533',
  ]);
  expect(devPorts({ port: 65_533 }, everything).usageStore).toBe(65_535);
});

test('an address in use is named by what listens there', () => {
  const ports = devPorts({ port: 10_000 }, everything);
  expect(portRole(ports, 10_000)).toBe('the gateway (PORT)');
  expect(portRole(ports, 10_001)).toBe('the embedded authorization server (DEV_AUTH_PORT, default PORT + 1)');
  expect(portRole(ports, 10_002)).toBe('the usage store (PORT + 2)');
  expect(portRole(ports, 4_000)).toBeUndefined();
});
