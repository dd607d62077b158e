/**
 * Everything a measurement needs: the synthesized bundles and the baseline, the
 * upstreams on loopback (the fixture token issuer for JWKS, AS metadata and
 * registration; the fake Tavily), and each target's environment and first requests.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseEnv } from 'node:util';
import type { JWK } from 'jose';
import { parseDeploySettings } from '../lib/config.js';
import { usageEnvironment } from '../lambda/mcp/quota/usage-settings.js';
import type { FunctionName } from '../lambda/shared/routes.js';
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
import type { Caller } from '../lambda/shared/caller.js';
import { nodeBinary } from './child.js';
import {
  authorizationServerMetadataEvent,
  authorizerRequestEvent,
  mcpInitializeEvent,
  mcpModernEvent,
  mcpToolCallEvent,
  mcpToolsListEvent,
  registrationEvent,
  RUN_MARKER,
  type Invocation,
} from './events.js';
import { startUpstreams, type BenchUpstreams } from './upstreams.js';

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
  /** Tavily, SSM and the usage table on loopback. */
  readonly upstreams: BenchUpstreams;
  /** The MCP function's environment as deployed (key from SSM, cache on), pointed at the upstreams; and with quotas on. */
  readonly mcpEnvironments: { readonly deployed: Record<string, string>; readonly quotas: Record<string, string> };
  /** A token and what the authorizer passes on for it, for building MCP events. */
  readonly mcpCaller: { readonly token: string; readonly caller: Caller };
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
  const tavilyKeyParameter = functions.mcp.environment.TAVILY_API_KEY_PARAMETER;
  if (!tavilyKeyParameter) throw new Error('bench: the synthesized MCP function reads no TAVILY_API_KEY_PARAMETER');
  let upstreams: BenchUpstreams;
  try {
    upstreams = await startUpstreams(tavilyKeyParameter);
  } catch (error) {
    await issuer.close();
    throw error;
  }
  const close = async () => {
    await Promise.all([issuer.close(), upstreams.close()]);
  };

  try {
    // The stack's variables, with the upstreams moved to loopback (the MCP function's AWS SDK
    // clients through their endpoint variables, with credentials where Lambda puts them).
    // LOG_LEVEL INFO everywhere: the decision and request lines are written, as in production.
    const onLoopback: Record<string, string> = { SCALEKIT_ENVIRONMENT_URL: issuer.environmentUrl, LOG_LEVEL: 'INFO' };
    const loopbackVariables = (variables: Readonly<Record<string, string>>) =>
      Object.fromEntries(Object.entries(variables).map(([key, value]) => [key, onLoopback[key] ?? value]));
    /** The MCP function's variables, its upstreams on loopback too. */
    const withUpstreams = (variables: Readonly<Record<string, string>>) => ({ ...loopbackVariables(variables), ...upstreams.environment });
    const target = (
      name: string,
      bundle: string,
      fn: SynthesizedFunction,
      invocations: readonly Invocation[],
      node?: string,
      variables: Readonly<Record<string, string>> = fn.environment,
    ): ColdTarget => ({
      name,
      bundle,
      invocations,
      ...(node ? { node } : {}),
      environment: lambdaEnvironment(name, fn.memoryMb, fn.name === 'mcp' ? withUpstreams(variables) : loopbackVariables(variables)),
    });
    const mcpEnvironments = {
      deployed: withUpstreams(functions.mcp.environment),
      quotas: withUpstreams({ ...functions.mcp.environment, ...quotaVariables() }),
    };

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
    // A cold instance's whole session to its first search: the handshake, the listing, then web_search
    // with a query of the run's own (a cache miss, as a first search mostly is).
    const firstSearch: Invocation[] = [
      ...mcp,
      {
        label: 'tools/call',
        event: mcpToolCallEvent(API_HOST, token, caller, `first search ${RUN_MARKER}`),
        // The fake Tavily's first title: in the answer only when the search went through.
        expect: { kind: 'proxy', statusCode: 200, bodyIncludes: 'Result 1 for first search' },
      },
    ];
    const verify: Invocation[] = [{ label: 'verify', event: authorizerRequestEvent(API_HOST, token), expect: { kind: 'policy', effect: 'Allow' } }];
    const register: Invocation[] = [
      { label: 'register', event: registrationEvent(API_HOST), expect: { kind: 'proxy', statusCode: 201, bodyIncludes: '"client_id"' } },
    ];
    const asMetadata: Invocation[] = [
      { label: 'AS metadata', event: authorizationServerMetadataEvent(API_HOST), expect: { kind: 'proxy', statusCode: 200, bodyIncludes: '"issuer"' } },
    ];
    const searching = (name: string, bundle: string, variables: Readonly<Record<string, string>>): ColdTarget => ({
      ...target(name, bundle, functions.mcp, firstSearch, undefined, variables),
      traceUpstreams: true,
    });
    const targets = [
      // What a user meets first: a cold instance's session to its first search answered.
      searching(FIRST_SEARCH.deployed, functions.mcp.path, functions.mcp.environment),
      searching(FIRST_SEARCH.quotas, functions.mcp.path, { ...functions.mcp.environment, ...quotaVariables() }),
      searching(FIRST_SEARCH.naive, naive.v2.path, functions.mcp.environment),
      // Where the time goes: the same bundle with no AWS SDK on the call (the key in the environment, as
      // the local stack has it, and the cache off): the difference with "as deployed" is the SDK's.
      searching(FIRST_SEARCH.withoutAwsSdk, functions.mcp.path, { ...functions.mcp.environment, TAVILY_API_KEY: upstreams.tavily.apiKey, CACHE_TTL_SECONDS: '0' }),
      // PROVISIONED_CONCURRENCY: an instance whose init ran before any client waited on it.
      searching(FIRST_SEARCH.provisioned, functions.mcp.path, { ...functions.mcp.environment, AWS_LAMBDA_INITIALIZATION_TYPE: 'provisioned-concurrency' }),
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
            searching(`${FIRST_SEARCH.deployed} @base`, base.mcp.path, functions.mcp.environment),
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
      upstreams,
      mcpEnvironments,
      mcpCaller: { token, caller },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** The first-search sessions' targets. */
export const FIRST_SEARCH = {
  deployed: 'first search, as deployed',
  quotas: 'first search, quotas on',
  naive: 'first search, naive v2',
  provisioned: 'first search, provisioned instance',
  withoutAwsSdk: 'first search, no AWS SDK (profile)',
} as const;

/**
 * Quotas on, as an operator would set them (.env.example's settings plus limits), through the
 * stack's own mapping to the function's variables: limits far above what the bench uses, so that
 * every call is counted and none refused.
 */
export function quotaVariables(): Record<string, string> {
  const example = parseEnv(readFileSync(fileURLToPath(new URL('../.env.example', import.meta.url)), 'utf8'));
  const settings = parseDeploySettings(() => undefined, {
    ...example,
    // Per-caller limits, the plain "quotas on"; a total cap (QUOTA_CREDITS_PER_DAY_TOTAL) would add
    // one update on the server's item in the same phase.
    QUOTA_CALLS_PER_MINUTE: '100000',
    QUOTA_CREDITS_PER_DAY: '10000000',
  });
  const { USAGE_TABLE_NAME: _name, ...variables } = usageEnvironment(settings);
  return variables;
}

export function targetNamed(setup: BenchSetup, name: TargetName): ColdTarget {
  const found = setup.targets.find((target) => target.name === name);
  if (!found) throw new Error(`bench: no target ${name}`);
  return found;
}
