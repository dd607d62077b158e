/**
 * Where the fixes send an operator, and the fixes more than one step gives. In
 * one place so that renaming a README section or a setting means changing one
 * line, not hunting through the steps.
 */
import { isLoopbackHost } from '../../lambda/shared/loopback.js';
import { MCP_PATH } from '../../lambda/shared/routes.js';
import type { NetworkProblem } from './http.js';
import { isExecuteApi, type Target } from './target.js';

export const README = {
  configuration: 'README.md, "Configuration"',
  scalekit: 'README.md, "Register the server in Scalekit"',
  customDomain: 'README.md, "Custom domain"',
  troubleshooting: 'README.md, "Troubleshooting"',
} as const;

/** Scalekit's dashboard, as its MCP quickstart names things. */
export const SCALEKIT_DASHBOARD = {
  mcpServer: 'Scalekit dashboard → MCP servers → this server',
  serverUrl: 'Scalekit dashboard → MCP servers → this server → Server URL (advanced settings)',
  scopes: 'Scalekit dashboard → MCP servers → this server → Scopes',
  registration: 'Scalekit dashboard → MCP servers → this server → "Allow dynamic client registration"',
  environmentUrl: 'Scalekit dashboard → Settings → API credentials → Environment URL',
  m2mClient: 'the M2M client in Scalekit (its secret is shown once, at creation: make a new secret if it is lost)',
} as const;

/** Where each kind of problem is logged, deployed and locally. */
export const LOGS = {
  functions: "the functions' CloudWatch log groups (/aws/lambda/<stack>-…), or the terminal running `npm run dev`",
  authorizer: "the authorizer function's CloudWatch log group (its line names the reason: wrong_audience, wrong_issuer, bad_signature, expired…), or the terminal running `npm run dev`",
} as const;

export const REDEPLOY = 'redeploy (`npx cdk deploy`)';

export const MCP_INSPECTOR_ORIGIN = 'http://localhost:6274';

/** The stage the CDK stack deploys (STAGE_NAME in lib/web-search-mcp-stack.ts, which pulls in aws-cdk-lib: not imported here). */
export const DEPLOYED_STAGE = 'prod';

/** What to do when a host does not answer; `this server` gets deployment advice, the authorization server only network advice (its URL comes from settings, named by the caller). */
export function fixForUnreachable(problem: NetworkProblem, host: 'this server' | 'the authorization server'): string {
  const ours = host === 'this server';
  switch (problem.kind) {
    case 'refused':
      return ours
        ? 'Nothing listens there. Locally, start `npm run dev` (it prints the URLs to use); deployed, use the McpUrl output of `npx cdk deploy`.'
        : 'Nothing listens there.';
    case 'dns':
      return ours
        ? `Check the host name. Deployed, use the McpUrl output of \`npx cdk deploy\` (the execute-api URL with its /${DEPLOYED_STAGE} stage), or your custom domain once its DNS record points at API Gateway (${README.customDomain}).`
        : 'Its host name does not resolve: check for a typo.';
    case 'tls':
      return ours
        ? `The certificate does not validate for this host. On a custom domain the ACM certificate must cover the host name and be attached to the API Gateway custom domain (${README.customDomain}); the local stack speaks plain http://, not https://.`
        : 'Its certificate does not validate from this machine (a proxy intercepting TLS does this).';
    case 'timeout':
      return `Check the network path from here (firewall, proxy, VPN).${ours ? ' API Gateway answers within seconds even when a function starts cold.' : ''}`;
    case 'reset':
      return ours ? 'The connection was dropped: if the URL says http://, try https:// (the local stack is plain http://).' : 'The connection was dropped.';
    default:
      return 'Check the URL.';
  }
}

/** Where the MCP endpoint is, for a URL that reached something else. */
export function wrongPathFix(target: Target): string {
  const path = new URL(target.mcpUrl).pathname;
  const onExecuteApi = isExecuteApi(target.mcpUrl);
  const stageMissing = onExecuteApi && path === MCP_PATH;
  return [
    `The MCP endpoint is {base}${MCP_PATH}, where {base} is the API's base URL.`,
    stageMissing
      ? `On an execute-api URL the base includes the stage: https://${new URL(target.mcpUrl).host}/${DEPLOYED_STAGE}${MCP_PATH}.`
      : onExecuteApi
        ? `On an execute-api URL the base is the URL with its stage (/${DEPLOYED_STAGE}), nothing more.`
        : '',
    'Copy the McpUrl output of `npx cdk deploy` (or the URL `npm run dev` prints).',
  ]
    .filter(Boolean)
    .join(' ');
}

/** What to check when the authorization server is missing or unreachable: it comes from the deployment's Scalekit settings. */
export function authorizationServerFix(authorizationServer: string, network: NetworkProblem | undefined): string {
  const local = isLoopbackHost(new URL(authorizationServer).hostname);
  const configure = `authorization_servers comes from SCALEKIT_ENVIRONMENT_URL (${SCALEKIT_DASHBOARD.environmentUrl}) and SCALEKIT_RESOURCE_ID (the res_… id under ${SCALEKIT_DASHBOARD.mcpServer}): check both and ${REDEPLOY} (${README.configuration}).`;
  if (network?.kind === 'refused' && local) {
    return `The authorization server at ${new URL(authorizationServer).origin} is not running. Locally, \`npm run dev\` starts the embedded one with the stack: restart it. Otherwise, ${configure}`;
  }
  return `${network ? `${fixForUnreachable(network, 'the authorization server')} ` : ''}${configure}`;
}
