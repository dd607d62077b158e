/**
 * A child's own record of its requests to the upstreams (bench/upstreams.ts):
 * through fetch (the functions' DynamoDB, SSM and Tavily calls) or node:http
 * (the naive baseline's AWS SDK). Read from Node's diagnostics channels (`http.client.*`, `undici:*`),
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
  // undici gives a request's headers as a flat [name, value, ...] list, or (older) as one string.
  const headerOf = (headers, name) => {
    if (Array.isArray(headers)) {
      for (let i = 0; i + 1 < headers.length; i += 2) if (String(headers[i]).toLowerCase() === name) return String(headers[i + 1]);
      return undefined;
    }
    return typeof headers === 'string' ? new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(headers)?.[1]?.trim() : undefined;
  };
  subscribe('undici:request:create', ({ request }) => {
    const service = serviceOf(new URL(request.origin).host);
    if (!service) return;
    const target = headerOf(request.headers, 'x-amz-target');
    const operation = target ? target.split('.').pop() : request.path.replace(/^\//, '');
    open.set(request, { service, operation, startMs: performance.now() });
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
