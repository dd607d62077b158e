/**
 * Everything a measurement needs: the synthesized bundles and the baseline, the
 * upstreams on loopback (the fixture token issuer for JWKS, AS metadata and
 * registration; the fake Tavily), and each target's environment and first requests.
 */
import type { JWK } from 'jose';
import type { FunctionName } from '../lambda/shared/routes.js';
import { startFakeTavily } from '../test/fixtures/fake-tavily.js';
import { startTokenIssuer } from '../test/fixtures/token-issuer.js';
import {
  API_HOST,
  buildBaseline,
  buildBaseRef,
  synthesizeFunctions,
  type BaseRefBundles,
  type BaselineBundle,
  type SynthesizedFunction,
} from './bundles.js';
import { lambdaEnvironment } from './child.js';
import type { ColdTarget } from './cold-start.js';
import { nodeBinary } from './child.js';
import {
  authorizationServerMetadataEvent,
  authorizerRequestEvent,
  mcpInitializeEvent,
  mcpModernEvent,
  mcpToolsListEvent,
  registrationEvent,
  type Invocation,
} from './events.js';

/**
 * What is measured: ours, each naive counterpart (bench/baseline/), an A/A
 * control (mcp's bundle twice), and, when npx can give Node 24, ours on Node 24.
 */
export type TargetName = string;

/** The naive bundles: v1 McpServer (the earlier baseline), v2 McpServer + createMcpHandler, plain-jose authorizer, fetch proxy. */
export const NAIVE = { v1: 'index', v2: 'mcp-v2', authorizer: 'authorizer', proxy: 'proxy' } as const;

export interface BenchSetup {
  readonly functions: Readonly<Record<FunctionName, SynthesizedFunction>>;
  readonly baseline: BaselineBundle;
  readonly naive: Readonly<Record<keyof typeof NAIVE, BaselineBundle>>;
  /** Every target, each with its first request(s). */
  readonly targets: readonly ColdTarget[];
  /** The mcp and authorizer bundles of the base ref (BENCH_BASE_REF), or why they could not be built. */
  readonly base: BaseRefBundles;
  /** Node 24's binary, when npx could give it. */
  readonly node24?: { readonly path: string; readonly version: string };
  /** A new token, valid for an hour, for the authorizer's REQUEST event. */
  readonly authorizerEvent: () => Promise<unknown>;
  /** The JWKS key, issuer and audience, for verifying tokens with jose directly. */
  readonly verification: { readonly token: string; readonly publicJwk: JWK; readonly issuer: string; readonly audience: string };
  close(): Promise<void>;
}

/** `baseRef`: the commit whose mcp and authorizer bundles are measured beside ours (none when absent). */
export async function setUp(workDir: string, baseRef?: string): Promise<BenchSetup> {
  const functions = synthesizeFunctions(workDir);
  const naive = {
    v1: await buildBaseline(workDir, NAIVE.v1),
    v2: await buildBaseline(workDir, NAIVE.v2),
    authorizer: await buildBaseline(workDir, NAIVE.authorizer),
    proxy: await buildBaseline(workDir, NAIVE.proxy),
  };
  const baseline = naive.v1;
  const base: BaseRefBundles = baseRef ? await buildBaseRef(workDir, baseRef) : { ref: '(none)', error: 'no base ref asked for' };
  const node24 = process.env.BENCH_NODE24 === '0' ? undefined : nodeBinary(24);

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
    // LOG_LEVEL INFO everywhere: the decision and request lines are written, as in production.
    const upstreams: Record<string, string> = {
      SCALEKIT_ENVIRONMENT_URL: issuer.environmentUrl,
      TAVILY_API_BASE_URL: tavily.url,
      LOG_LEVEL: 'INFO',
    };
    const target = (name: string, bundle: string, fn: SynthesizedFunction, invocations: readonly Invocation[], node?: string): ColdTarget => ({
      name,
      bundle,
      invocations,
      ...(node ? { node } : {}),
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
    // 2026-07-28: a bundle that cannot serve it answers 400 (n/a, not an error).
    const modern: Invocation[] = [
      {
        label: 'server/discover',
        event: mcpModernEvent(API_HOST, token, caller, 'server/discover', 1),
        expect: { kind: 'proxy', statusCode: 200, bodyIncludes: '"supportedVersions"', notServedStatus: 400 },
      },
      {
        label: 'tools/list',
        event: mcpModernEvent(API_HOST, token, caller, 'tools/list', 2),
        expect: { kind: 'proxy', statusCode: 200, bodyIncludes: '"web_search"', notServedStatus: 400 },
      },
    ];
    const verify: Invocation[] = [{ label: 'verify', event: authorizerRequestEvent(API_HOST, token), expect: { kind: 'policy', effect: 'Allow' } }];
    const register: Invocation[] = [
      { label: 'register', event: registrationEvent(API_HOST), expect: { kind: 'proxy', statusCode: 201, bodyIncludes: '"client_id"' } },
    ];
    const asMetadata: Invocation[] = [
      { label: 'AS metadata', event: authorizationServerMetadataEvent(API_HOST), expect: { kind: 'proxy', statusCode: 200, bodyIncludes: '"issuer"' } },
    ];
    const targets = [
      target('authorizer', functions.authorizer.path, functions.authorizer, verify),
      target('naive authorizer', naive.authorizer.path, functions.authorizer, verify),
      target('AS metadata', functions.metadata.path, functions.metadata, asMetadata),
      target('naive proxy AS metadata', naive.proxy.path, functions.metadata, asMetadata),
      target('register', functions.register.path, functions.register, register),
      target('naive proxy register', naive.proxy.path, functions.register, register),
      target('mcp', functions.mcp.path, functions.mcp, mcp),
      // A/A control: the same bundle again, as a second variant; the difference is the bench's noise.
      target('mcp (A-A copy)', functions.mcp.path, functions.mcp, mcp),
      target('mcp 2026-07-28', functions.mcp.path, functions.mcp, modern),
      // The baselines run as the MCP function would: same memory, same environment.
      target('naive v2', naive.v2.path, functions.mcp, mcp),
      target('naive v2 2026-07-28', naive.v2.path, functions.mcp, modern),
      target('baseline', baseline.path, functions.mcp, mcp),
      // Before/after: the base ref's bundles, in the same rounds (its environment: today's, which it may partly ignore).
      ...('error' in base
        ? []
        : [
            target('authorizer @base', base.authorizer.path, functions.authorizer, verify),
            target('mcp @base', base.mcp.path, functions.mcp, mcp),
            target('mcp 2026-07-28 @base', base.mcp.path, functions.mcp, modern),
          ]),
      ...(node24
        ? [
            target('authorizer @24', functions.authorizer.path, functions.authorizer, verify, node24.path),
            target('mcp @24', functions.mcp.path, functions.mcp, mcp, node24.path),
            target('mcp 2026-07-28 @24', functions.mcp.path, functions.mcp, modern, node24.path),
          ]
        : []),
    ];

    return {
      functions,
      baseline,
      naive,
      base,
      targets,
      ...(node24 ? { node24 } : {}),
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
