/**
 * The minimal fetch-based proxy of issue 14's budgets, for the register route and
 * the AS metadata route: the same upstream calls as ours (the authorization
 * server's metadata; for a registration, then a POST to its registration
 * endpoint), nothing else: no policy, no cache, no validation. Not product code.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';

const metadataUrl = `${process.env.SCALEKIT_ENVIRONMENT_URL}/resources/${process.env.SCALEKIT_RESOURCE_ID}/.well-known/oauth-authorization-server`;

export const handler = async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
  const metadata = await fetch(metadataUrl);
  const json = (await metadata.json()) as Record<string, unknown>;
  if (event.httpMethod === 'GET') {
    return { statusCode: metadata.status, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(json) };
  }
  const upstream = await fetch(String(json.registration_endpoint), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: event.body ?? '',
  });
  return { statusCode: upstream.status, headers: { 'Content-Type': 'application/json' }, body: await upstream.text() };
};
