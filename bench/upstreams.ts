/**
 * What a tool call talks to, on loopback, in this process: the fake Tavily, a
 * fake SSM holding the Tavily key as the deployed stack keeps it, and the usage
 * table in dynalite (the local stack's store). The function runs in a child
 * process and reaches them through the AWS SDK's own endpoint variables
 * (AWS_ENDPOINT_URL_SSM, AWS_ENDPOINT_URL_DYNAMODB), so its clients take the
 * deployed path: region, credentials from the environment, SigV4.
 *
 * The child records its own requests to them (upstream-trace.mjs, from Node's
 * HTTP client diagnostics channels: nothing added to the function or the
 * servers); `storeProfile` reads such a record.
 */
import { startLocalUsageStore, type LocalUsageStore } from '../local/usage-store-server.js';
import { startFakeSsm, type FakeSsm } from '../test/fixtures/fake-ssm.js';
import { startFakeTavily, type FakeTavily } from '../test/fixtures/fake-tavily.js';

export interface BenchUpstreams {
  readonly tavily: FakeTavily;
  readonly ssm: FakeSsm;
  readonly store: LocalUsageStore;
  /**
   * What points a function's AWS SDK clients at the fakes, with credentials in the variables
   * Lambda sets; the table's name replaces the stack's.
   */
  readonly environment: Record<string, string>;
  close(): Promise<void>;
}

export async function startUpstreams(tavilyKeyParameter: string): Promise<BenchUpstreams> {
  const tavily = await startFakeTavily();
  const ssm = await startFakeSsm();
  ssm.parameters.set(tavilyKeyParameter, tavily.apiKey);
  const store = await startLocalUsageStore({ tableName: 'bench-usage' }).catch(async (error: unknown) => {
    await Promise.all([tavily.close(), ssm.close()]);
    throw error;
  });
  return {
    tavily,
    ssm,
    store,
    environment: {
      ...ssm.environment,
      AWS_SESSION_TOKEN: 'bench-session-token',
      AWS_ENDPOINT_URL_DYNAMODB: store.endpoint,
      TAVILY_API_BASE_URL: tavily.url,
      USAGE_TABLE_NAME: store.tableName,
    },
    async close() {
      await Promise.all([tavily.close(), ssm.close(), store.close()]);
    },
  };
}

/** One request of a child to an upstream, as upstream-trace.mjs records it (its own clock, in ms). */
export interface UpstreamRequest {
  readonly service: 'tavily' | 'ssm' | 'dynamodb';
  /** DynamoDB's and SSM's operation (`UpdateItem`, `GetParameter`), Tavily's endpoint (`search`). */
  readonly operation: string;
  readonly startMs: number;
  /** When its answer was read (Tavily: when its headers came). */
  readonly endMs: number;
}

/** What one tool call asked of the usage table: how many requests, in how many sequential phases, and where Tavily fell. */
export interface StoreProfile {
  readonly dynamoDbRequests: number;
  /** Groups of requests that overlap in time: each group waited for the one before. */
  readonly phases: number;
  /** Phases begun before Tavily was called (all of them when Tavily was not called). */
  readonly phasesBeforeTavily: number;
  /** The operations of each phase, in order, e.g. [["UpdateItem","UpdateItem","GetItem"],["PutItem"]]. */
  readonly phaseOperations: readonly (readonly string[])[];
  readonly ssmRequests: number;
  readonly tavilyRequests: number;
  /**
   * Every upstream request, grouped the same way: what waited for what. E.g.
   * [["GetItem"], ["SSM GetParameter"], ["Tavily search"], ["PutItem"]] is four round trips one after another.
   */
  readonly sequence: readonly (readonly string[])[];
}

/** Requests grouped into phases: a request that starts after every earlier one has been answered opens the next phase. */
function phasesOf(requests: readonly UpstreamRequest[]): UpstreamRequest[][] {
  const phases: UpstreamRequest[][] = [];
  let phaseEnd = -Infinity;
  for (const request of [...requests].sort((a, b) => a.startMs - b.startMs)) {
    if (request.startMs > phaseEnd) phases.push([]);
    phases.at(-1)!.push(request);
    phaseEnd = Math.max(phaseEnd, request.endMs);
  }
  return phases;
}

const LABELS = { dynamodb: '', ssm: 'SSM ', tavily: 'Tavily ' } as const;

export function storeProfile(requests: readonly UpstreamRequest[]): StoreProfile {
  const dynamo = requests.filter((request) => request.service === 'dynamodb');
  const phases = phasesOf(dynamo);
  const tavilyStart = requests.find((request) => request.service === 'tavily')?.startMs ?? Infinity;
  return {
    dynamoDbRequests: dynamo.length,
    phases: phases.length,
    phasesBeforeTavily: phases.filter((phase) => phase[0]!.startMs < tavilyStart).length,
    phaseOperations: phases.map((phase) => phase.map((request) => request.operation)),
    ssmRequests: requests.filter((request) => request.service === 'ssm').length,
    tavilyRequests: requests.filter((request) => request.service === 'tavily').length,
    sequence: phasesOf(requests).map((phase) => phase.map((request) => `${LABELS[request.service]}${request.operation}`)),
  };
}
