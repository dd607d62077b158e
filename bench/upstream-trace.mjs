/**
 * A child's own record of its requests to the upstreams (bench/upstreams.ts):
 * DynamoDB and SSM through the AWS SDK's node:http handler, Tavily through
 * fetch. Read from Node's diagnostics channels (`http.client.*`, `undici:*`),
 * so nothing is added to the function: what is recorded is what its clients
 * sent, when they sent it and when the answer was in, on this process's clock.
 *
 * Which upstream a request went to is read from its port: the endpoints are
 * the function's own variables (AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SSM,
 * TAVILY_API_BASE_URL).
 */
import { subscribe } from 'node:diagnostics_channel';

const portOf = (url) => {
  try {
    return url ? new URL(url).port : undefined;
  } catch {
    return undefined;
  }
};

export function traceUpstreams(environment = process.env) {
  const services = new Map(
    [
      [portOf(environment.AWS_ENDPOINT_URL_DYNAMODB), 'dynamodb'],
      [portOf(environment.AWS_ENDPOINT_URL_SSM), 'ssm'],
      [portOf(environment.TAVILY_API_BASE_URL), 'tavily'],
    ].filter(([port]) => port),
  );
  let recorded = [];
  const open = new Map();
  const serviceOf = (host) => services.get(String(host ?? '').split(':').pop());

  subscribe('http.client.request.start', ({ request }) => {
    const service = serviceOf(request.getHeader('host'));
    if (!service) return;
    const target = request.getHeader('x-amz-target');
    const operation = typeof target === 'string' ? target.split('.').pop() : request.path;
    open.set(request, { service, operation, startMs: performance.now() });
  });
  subscribe('http.client.response.finish', ({ request }) => {
    const started = open.get(request);
    if (!started) return;
    open.delete(request);
    recorded.push({ ...started, endMs: performance.now() });
  });
  subscribe('undici:request:create', ({ request }) => {
    const service = serviceOf(new URL(request.origin).host);
    if (!service) return;
    open.set(request, { service, operation: request.path.replace(/^\//, ''), startMs: performance.now() });
  });
  subscribe('undici:request:headers', ({ request }) => {
    const started = open.get(request);
    if (!started) return;
    open.delete(request);
    recorded.push({ ...started, endMs: performance.now() });
  });

  return {
    /** The requests answered since the last take, in the order they were sent. */
    take() {
      const requests = recorded.sort((a, b) => a.startMs - b.startMs);
      recorded = [];
      return requests;
    },
  };
}
