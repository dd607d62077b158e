/**
 * Where the fixes send an operator. In one place so that renaming a README
 * section or a setting means changing one line, not hunting through checks.
 */

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
