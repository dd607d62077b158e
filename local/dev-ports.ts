/**
 * The local stack's ports, all derived from PORT unless set: the gateway on
 * PORT, the embedded authorization server on PORT + 1 (or DEV_AUTH_PORT), the
 * usage store on PORT + 2, where `npm run usage` looks for it. Checked against
 * each other before anything listens, so a clash is named as a clash rather
 * than surfacing as "address in use" from whichever server starts second.
 *
 * Small on purpose: `npm run usage` imports it without the stack.
 */
import { ConfigurationError } from '../lambda/shared/settings.js';

export const AUTHORIZATION_SERVER_PORT_OFFSET = 1;
export const USAGE_STORE_PORT_OFFSET = 2;
const HIGHEST_PORT = 65_535;

export interface DevPorts {
  readonly gateway: number;
  /** Absent when a Scalekit environment is configured (no embedded server). */
  readonly authorizationServer?: number;
  /** Absent when quotas and the cache are both off (no store). */
  readonly usageStore?: number;
}

/** Where `npm run usage` finds `npm run dev`'s store. */
export const usageStorePort = (port: number) => port + USAGE_STORE_PORT_OFFSET;

/**
 * The ports for PORT and DEV_AUTH_PORT, given which servers run; a ConfigurationError
 * naming every clash or overflow. Port 0 (tests) picks free ports for all.
 */
export function devPorts(
  settings: { readonly port: number; readonly devAuthPort?: number | undefined },
  runs: { readonly authorizationServer: boolean; readonly usageStore: boolean },
): DevPorts {
  const { port, devAuthPort } = settings;
  if (port === 0) {
    return { gateway: 0, ...(runs.authorizationServer ? { authorizationServer: devAuthPort ?? 0 } : {}), ...(runs.usageStore ? { usageStore: 0 } : {}) };
  }
  const problems: string[] = [];
  const usageStore = runs.usageStore ? usageStorePort(port) : undefined;
  const authorizationServer = runs.authorizationServer ? (devAuthPort ?? port + AUTHORIZATION_SERVER_PORT_OFFSET) : undefined;
  const highest = Math.max(usageStore ?? 0, authorizationServer ?? 0);
  if (highest > HIGHEST_PORT) {
    const derived = [
      ...(authorizationServer !== undefined && devAuthPort === undefined ? [`the authorization server on PORT + ${AUTHORIZATION_SERVER_PORT_OFFSET}`] : []),
      ...(usageStore !== undefined ? [`the usage store on PORT + ${USAGE_STORE_PORT_OFFSET}`] : []),
    ];
    problems.push(`PORT: ${port} leaves no room for ${derived.join(' and ')} (ports end at ${HIGHEST_PORT}); use a PORT up to ${HIGHEST_PORT - USAGE_STORE_PORT_OFFSET}`);
  }
  if (devAuthPort !== undefined && runs.authorizationServer) {
    const fix = `choose another, or leave it unset for PORT + ${AUTHORIZATION_SERVER_PORT_OFFSET} (${port + AUTHORIZATION_SERVER_PORT_OFFSET})`;
    if (devAuthPort === port) problems.push(`DEV_AUTH_PORT: ${devAuthPort} is PORT, the gateway's port; ${fix}`);
    if (devAuthPort === usageStore) {
      problems.push(`DEV_AUTH_PORT: ${devAuthPort} is the usage store's port (PORT + ${USAGE_STORE_PORT_OFFSET}, where npm run usage looks for it); ${fix}`);
    }
  }
  if (problems.length > 0) throw new ConfigurationError(problems, 'local stack settings');
  return {
    gateway: port,
    ...(authorizationServer !== undefined ? { authorizationServer } : {}),
    ...(usageStore !== undefined ? { usageStore } : {}),
  };
}

/** What listens on `port`, for an "address in use" message. */
export function portRole(ports: DevPorts, port: number): string | undefined {
  if (port === ports.gateway) return 'the gateway (PORT)';
  if (port === ports.authorizationServer) return 'the embedded authorization server (DEV_AUTH_PORT, default PORT + 1)';
  if (port === ports.usageStore) return `the usage store (PORT + ${USAGE_STORE_PORT_OFFSET})`;
  return undefined;
}
