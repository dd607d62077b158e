/**
 * Everything a measurement needs: the synthesized bundles and the baseline, the
 * upstreams on loopback (the fixture token issuer for JWKS, AS metadata and
 * registration; the fake Tavily), and each target's environment and first requests.
 */
import type { JWK } from 'jose';
import type { FunctionName } from '../lib/routes.js';
import { startFakeTavily } from '../test/fixtures/fake-tavily.js';
import { startTokenIssuer } from '../test/fixtures/token-issuer.js';
import { API_HOST, buildBaseline, synthesizeFunctions, type BaselineBundle, type SynthesizedFunction } from './bundles.js';
import { lambdaEnvironment } from './child.js';
import type { ColdTarget } from './cold-start.js';
import {
  authorizerRequestEvent,
  mcpInitializeEvent,
  mcpToolsListEvent,
  protectedResourceMetadataEvent,
  registrationEvent,
  type Invocation,
} from './events.js';

export type TargetName = FunctionName | 'baseline';

export interface BenchSetup {
  readonly functions: Readonly<Record<FunctionName, SynthesizedFunction>>;
  readonly baseline: BaselineBundle;
  /** The four functions, then the baseline, each with its first request(s). */
  readonly targets: readonly ColdTarget[];
  /** A new token, valid for an hour, for the authorizer's REQUEST event. */
  readonly authorizerEvent: () => Promise<unknown>;
  /** The JWKS key, issuer and audience, for verifying tokens with jose directly. */
  readonly verification: { readonly token: string; readonly publicJwk: JWK; readonly issuer: string; readonly audience: string };
  close(): Promise<void>;
}

export async function setUp(workDir: string): Promise<BenchSetup> {
  const functions = synthesizeFunctions(workDir);
  const baseline = await buildBaseline(workDir);

  const resourceIdentifier = functions.authorizer.environment.RESOURCE_IDENTIFIER!;
  const issuer = await startTokenIssuer({
    resourceId: functions.authorizer.environment.SCALEKIT_RESOURCE_ID,
    audience: () => resourceIdentifier,
  });
  const tavily = await startFakeTavily();
  const close = async () => {
    await Promise.all([issuer.close(), tavily.close()]);
  };

  try {
    // The stack's variables, with the upstreams moved to loopback.
    const upstreams: Record<string, string> = { SCALEKIT_ENVIRONMENT_URL: issuer.environmentUrl, TAVILY_API_BASE_URL: tavily.url };
    const target = (name: string, bundle: string, fn: SynthesizedFunction, invocations: readonly Invocation[]): ColdTarget => ({
      name,
      bundle,
      invocations,
      environment: lambdaEnvironment(
        name,
        fn.memoryMb,
        Object.fromEntries(Object.entries(fn.environment).map(([key, value]) => [key, upstreams[key] ?? value])),
      ),
    });

    const mint = () => issuer.mint({ expiresInSeconds: 3600 });
    const token = await mint();
    const claims = issuer.defaultClaims();
    // What the authorizer puts in the context for this token, as API Gateway passes it on.
    const caller = {
      sub: String(claims.sub),
      clientId: String(claims.client_id),
      scopes: String(claims.scope).split(' '),
      exp: Math.floor(Date.now() / 1000) + 3600,
      tokenId: String(claims.jti),
    };
    const mcp: Invocation[] = [
      {
        label: 'initialize',
        event: mcpInitializeEvent(API_HOST, token, caller),
        expect: { kind: 'proxy', statusCode: 200, bodyIncludes: '"protocolVersion"' },
      },
      {
        label: 'tools/list',
        event: mcpToolsListEvent(API_HOST, token, caller),
        expect: { kind: 'proxy', statusCode: 200, bodyIncludes: '"web_search"' },
      },
    ];
    const targets = [
      target('authorizer', functions.authorizer.path, functions.authorizer, [
        { label: 'verify', event: authorizerRequestEvent(API_HOST, token), expect: { kind: 'policy', effect: 'Allow' } },
      ]),
      target('metadata', functions.metadata.path, functions.metadata, [
        {
          label: 'PRM',
          event: protectedResourceMetadataEvent(API_HOST),
          expect: { kind: 'proxy', statusCode: 200, bodyIncludes: '"authorization_servers"' },
        },
      ]),
      target('register', functions.register.path, functions.register, [
        { label: 'register', event: registrationEvent(API_HOST), expect: { kind: 'proxy', statusCode: 201, bodyIncludes: '"client_id"' } },
      ]),
      target('mcp', functions.mcp.path, functions.mcp, mcp),
      // The baseline runs as the MCP function would: same memory, same environment.
      target('baseline', baseline.path, functions.mcp, mcp),
    ];

    return {
      functions,
      baseline,
      targets,
      authorizerEvent: async () => authorizerRequestEvent(API_HOST, await mint()),
      verification: { token, publicJwk: issuer.key.publicJwk, issuer: String(claims.iss), audience: resourceIdentifier },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

export function targetNamed(setup: BenchSetup, name: TargetName): ColdTarget {
  const found = setup.targets.find((target) => target.name === name);
  if (!found) throw new Error(`bench: no target ${name}`);
  return found;
}
