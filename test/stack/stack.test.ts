/**
 * The synthesized template, with the settings of .env.example: routes from the
 * route table, the authorizer, the gateway responses with their exact headers,
 * runtimes, least-privilege SSM access, and cdk-nag's AwsSolutions rules.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { parseDeploySettings, type DeploySettings } from '../../lib/config.js';
import { AS_METADATA_PATH, PRM_FOR_MCP_PATH, PRM_PATH, routePaths, routes } from '../../lambda/shared/routes.js';
import { POWERTOOLS_VERSION } from '../../lib/bundling.js';
import { STAGE_NAME, WebSearchMcpStack } from '../../lib/web-search-mcp-stack.js';
import { ConfigurationError, scopesSupported } from '../../lambda/shared/settings.js';
import { protectedResourceMetadata } from '../../lambda/shared/protected-resource-metadata.js';
import { VTL_LITERAL_PRELUDE, VTL_LITERALS } from '../../lib/mock-integrations.js';

const exampleEnvironment = parseEnv(readFileSync(new URL('../../.env.example', import.meta.url), 'utf8'));

function settingsFrom(overrides: Record<string, string> = {}): DeploySettings {
  return parseDeploySettings(() => undefined, { ...exampleEnvironment, ...overrides });
}

function synth(settings: DeploySettings, { withNag = false, change }: { withNag?: boolean; change?: (stack: WebSearchMcpStack) => void } = {}) {
  const app = new App({ outdir: mkdtempSync(join(tmpdir(), 'cdk-test-')) });
  const stack = new WebSearchMcpStack(app, 'WebSearchMcp', { settings });
  change?.(stack);
  if (withNag) {
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    return { app, stack };
  }
  return { app, stack, template: Template.fromStack(stack) };
}

/** Resolve a CloudFormation value to text, with stand-ins for the deploy-time parts. */
function resolveText(value: unknown): string {
  if (typeof value === 'string') return value;
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (join) return join[1].map(resolveText).join(join[0]);
  const ref = (value as { Ref?: string }).Ref;
  if (ref === 'AWS::Region') return 'eu-west-1';
  if (ref === 'AWS::URLSuffix') return 'amazonaws.com';
  if (ref) return 'API_ID';
  throw new Error(`Cannot resolve ${JSON.stringify(value)}`);
}

const settings = settingsFrom();
const template = synth(settings).template!;
const resources = template.toJSON().Resources as Record<string, { Type: string; Properties: Record<string, any> }>;
const byType = (type: string) => Object.entries(resources).filter(([, resource]) => resource.Type === type);
const BASE = `https://API_ID.execute-api.eu-west-1.amazonaws.com/${STAGE_NAME}`;
const PRM_URL = `${BASE}/.well-known/oauth-protected-resource/web-search/mcp`;

/** Each API Gateway Method as "METHOD /full/path". */
function methodPaths() {
  const pathOf = (id: string): string => {
    const resource = resources[id];
    if (!resource || resource.Type !== 'AWS::ApiGateway::Resource') return '';
    const parent = resource.Properties.ParentId;
    return `${parent?.Ref ? pathOf(parent.Ref) : ''}/${resource.Properties.PathPart}`;
  };
  return byType('AWS::ApiGateway::Method').map(([, method]) => ({
    key: `${method.Properties.HttpMethod} ${method.Properties.ResourceId.Ref ? pathOf(method.Properties.ResourceId.Ref) : '/'}`,
    method,
  }));
}

function functionIdOf(name: string) {
  const match = byType('AWS::Lambda::Function').find(([id]) => id.startsWith(`${name[0]!.toUpperCase()}${name.slice(1)}Function`));
  if (!match) throw new Error(`no function ${name}`);
  return match[0];
}

describe('routes', () => {
  const methods = methodPaths();

  test.each(routes.map((route) => [`${route.method} ${route.path}`, route] as const))('%s is built from the route table', (key, route) => {
    const found = methods.find((method) => method.key === key);
    expect(found).toBeDefined();
    const props = found!.method.Properties;
    expect(props.AuthorizationType).toBe(route.authorized ? 'CUSTOM' : 'NONE');
    if (route.integration === 'mock') {
      expect(props.Integration.Type).toBe('MOCK');
      expect(props.Integration.Uri).toBeUndefined();
    } else {
      expect(props.Integration.Type).toBe('AWS_PROXY');
      expect(JSON.stringify(props.Integration.Uri)).toContain(functionIdOf(route.function));
    }
  });

  test('both protected resource metadata routes are mocks; the AS metadata stays on the metadata function', () => {
    const integration = (key: string) => methods.find((method) => method.key === key)!.method.Properties.Integration;
    expect(integration(`GET ${PRM_PATH}`).Type).toBe('MOCK');
    expect(integration(`GET ${PRM_FOR_MCP_PATH}`).Type).toBe('MOCK');
    expect(integration(`GET ${AS_METADATA_PATH}`).Type).toBe('AWS_PROXY');
    expect(JSON.stringify(integration(`GET ${AS_METADATA_PATH}`).Uri)).toContain(functionIdOf('metadata'));
  });

  test('both PRM mocks answer, once CloudFormation and VTL have run, the document the metadata function builds, with its headers', () => {
    for (const [overrides, origins] of [[{}, false], [{ ALLOWED_ORIGINS: 'https://app.example.com' }, true]] as const) {
      const deployed = synth(settingsFrom(overrides));
      const all = deployed.template!.toJSON().Resources as Record<string, { Type: string; Properties: Record<string, any> }>;
      const mocks = Object.values(all).filter(
        (resource) => resource.Type === 'AWS::ApiGateway::Method' && resource.Properties.HttpMethod === 'GET' && resource.Properties.Integration.Type === 'MOCK',
      );
      expect(mocks).toHaveLength(2);
      const expected = JSON.stringify(
        protectedResourceMetadata({
          environmentUrl: settings.environmentUrl,
          resourceId: settings.resourceId,
          resourceIdentifier: `${BASE}/web-search/mcp`,
          scopesSupported: scopesSupported(settings.requiredScopes, settings.toolScopes),
        }),
      );
      for (const mock of mocks) {
        const response = mock.Properties.Integration.IntegrationResponses[0];
        expect(response.StatusCode).toBe('200');
        expect(response.ResponseParameters).toEqual({
          'method.response.header.Content-Type': "'application/json'",
          'method.response.header.Cache-Control': "'public, max-age=300'",
          'method.response.header.Vary': "'Origin'",
        });
        let text = resolveText(response.ResponseTemplates['application/json']);
        // The CORS grant (present only with ALLOWED_ORIGINS), then the document written verbatim.
        const grant = /^#set\(\$origin = (?:[^]*?#end){2}/.exec(text)?.[0];
        expect(grant !== undefined).toBe(origins);
        if (grant) {
          expect(grant).toContain("$origin.matches('^(https:\\/\\/app\\.example\\.com)$')");
          text = text.slice(grant.length);
        }
        expect(text.startsWith(VTL_LITERAL_PRELUDE)).toBe(true);
        text = text.slice(VTL_LITERAL_PRELUDE.length);
        const references = /\$\{(vtlDollar|vtlHash|vtlBackslash)\}/g;
        expect(text.replace(references, '')).not.toMatch(/[$#\\]/); // nothing left for Velocity to interpret
        const byName = Object.fromEntries(Object.entries(VTL_LITERALS).map(([character, { name }]) => [name, character]));
        expect(text.replace(references, (_, name: string) => byName[name]!)).toBe(expected);
      }
    }
  });

  test('API Gateway may invoke the metadata function only for the AS metadata route', () => {
    const metadataId = functionIdOf('metadata');
    const sourceArns = byType('AWS::Lambda::Permission')
      .filter(([, permission]) => JSON.stringify(permission.Properties.FunctionName).includes(metadataId))
      .map(([, permission]) => resolveText(permission.Properties.SourceArn));
    // One for the stage, one for the console's test invocations.
    expect(sourceArns).toHaveLength(2);
    for (const arn of sourceArns) expect(arn.endsWith(`/GET${AS_METADATA_PATH}`)).toBe(true);
  });

  test('every route path has a CORS preflight, and there is nothing else', () => {
    for (const path of routePaths) {
      const preflight = methods.find((method) => method.key === `OPTIONS ${path}`);
      expect(preflight?.method.Properties.Integration.Type).toBe('MOCK');
      expect(preflight?.method.Properties.AuthorizationType).toBe('NONE');
    }
    expect(methods).toHaveLength(routes.length + routePaths.length);
  });

  test('the deployed preflight grants exactly the allowed origins, with the same pattern the functions use', () => {
    const withOrigins = synth(settingsFrom({ ALLOWED_ORIGINS: 'https://app.example.com,http://localhost:*' })).template!;
    const preflights = Object.values(withOrigins.findResources('AWS::ApiGateway::Method')).filter(
      (method) => method.Properties.HttpMethod === 'OPTIONS',
    );
    expect(preflights).toHaveLength(routePaths.length);
    for (const preflight of preflights) {
      const template = preflight.Properties.Integration.IntegrationResponses[0].ResponseTemplates['application/json'];
      expect(template).toContain(`$origin.matches('^(https:\\/\\/app\\.example\\.com|http:\\/\\/localhost(:[0-9]{1,5})?)$')`);
      expect(template).toContain('#set($context.responseOverride.header.Access-Control-Allow-Origin = $origin)');
      // MCP 2026-07-28's request headers may be sent by browser clients.
      expect(template).toMatch(/Access-Control-Allow-Headers = '[^']*Mcp-Protocol-Version, Mcp-Method, Mcp-Name/);
    }
    // No origins configured (the default): preflights answer without granting anything.
    for (const [, method] of byType('AWS::ApiGateway::Method').filter(([, method]) => method.Properties.HttpMethod === 'OPTIONS')) {
      expect(method.Properties.Integration.IntegrationResponses[0].ResponseTemplates['application/json']).toBe('');
    }
  });

  test('only POST /web-search/mcp is behind the authorizer', () => {
    const custom = methods.filter((method) => method.method.Properties.AuthorizationType === 'CUSTOM').map((method) => method.key);
    expect(custom).toEqual(['POST /web-search/mcp']);
  });
});

describe('authorizer', () => {
  test('REQUEST authorizer on the Authorization header, cached for the configured TTL', () => {
    template.hasResourceProperties('AWS::ApiGateway::Authorizer', {
      Type: 'REQUEST',
      IdentitySource: 'method.request.header.Authorization',
      AuthorizerResultTtlInSeconds: 60,
    });
  });

  test('the TTL follows AUTHORIZER_CACHE_TTL_SECONDS', () => {
    const other = synth(settingsFrom({ AUTHORIZER_CACHE_TTL_SECONDS: '300' })).template!;
    other.hasResourceProperties('AWS::ApiGateway::Authorizer', { AuthorizerResultTtlInSeconds: 300 });
  });
});

describe('gateway responses', () => {
  const responses = Object.fromEntries(
    byType('AWS::ApiGateway::GatewayResponse').map(([, response]) => [response.Properties.ResponseType, response.Properties]),
  );
  const header = (type: string, name: string) => resolveText(responses[type].ResponseParameters[`gatewayresponse.header.${name}`]);

  test('UNAUTHORIZED: 401 with resource_metadata and scope', () => {
    expect(responses.UNAUTHORIZED.StatusCode).toBe('401');
    expect(header('UNAUTHORIZED', 'WWW-Authenticate')).toBe(`'Bearer resource_metadata="${PRM_URL}", scope="web-search:read"'`);
  });

  test('ACCESS_DENIED: 403 insufficient_scope step-up challenge', () => {
    expect(responses.ACCESS_DENIED.StatusCode).toBe('403');
    expect(header('ACCESS_DENIED', 'WWW-Authenticate')).toBe(
      `'Bearer error="insufficient_scope", scope="web-search:read", resource_metadata="${PRM_URL}"'`,
    );
  });

  test('AUTHORIZER_FAILURE: 503 with Retry-After', () => {
    expect(responses.AUTHORIZER_FAILURE.StatusCode).toBe('503');
    expect(header('AUTHORIZER_FAILURE', 'Retry-After')).toBe("'5'");
  });

  test('MISSING_AUTHENTICATION_TOKEN (unknown route): 404', () => {
    expect(responses.MISSING_AUTHENTICATION_TOKEN.StatusCode).toBe('404');
  });

  test('every gateway response has a JSON error body', () => {
    for (const [type, response] of Object.entries(responses) as Array<[string, Record<string, any>]>) {
      expect(header(type, 'Content-Type')).toBe("'application/json'");
      const body = resolveText(response.ResponseTemplates['application/json']).replace('$context.error.messageString', '"message"');
      expect(Object.keys(JSON.parse(body))).toEqual(['error', 'error_description']);
    }
  });

  test('with allowed origins, gateway responses carry CORS headers', () => {
    const withOrigins = synth(settingsFrom({ ALLOWED_ORIGINS: 'https://app.example.com,https://inspector.example.com' })).template!;
    const unauthorized = Object.values(withOrigins.findResources('AWS::ApiGateway::GatewayResponse')).find(
      (resource) => resource.Properties.ResponseType === 'UNAUTHORIZED',
    )!;
    expect(unauthorized.Properties.ResponseParameters).toMatchObject({
      'gatewayresponse.header.Access-Control-Allow-Origin': 'method.request.header.Origin',
      'gatewayresponse.header.Access-Control-Expose-Headers': "'WWW-Authenticate, Mcp-Session-Id, Mcp-Protocol-Version, Retry-After'",
    });
  });
});

describe('functions', () => {
  test('four functions on nodejs22.x, arm64', () => {
    const functions = byType('AWS::Lambda::Function');
    expect(functions).toHaveLength(4);
    for (const [, fn] of functions) {
      expect(fn.Properties.Runtime).toBe('nodejs22.x');
      expect(fn.Properties.Architectures).toEqual(['arm64']);
      expect(fn.Properties.Handler).toBe('index.handler');
    }
  });

  test('only the MCP function may read the Tavily parameter, and decrypt it only through SSM', () => {
    const policies = byType('AWS::IAM::Policy').map(([, policy]) => policy.Properties);
    const readers = policies.filter((policy) => JSON.stringify(policy.PolicyDocument).includes('ssm:GetParameter'));
    expect(readers).toHaveLength(1);
    expect(JSON.stringify(readers[0]!.Roles)).toContain('McpFunctionRole');
    const statements = readers[0]!.PolicyDocument.Statement as Array<Record<string, any>>;
    const ssm = statements.find((statement) => statement.Action === 'ssm:GetParameter')!;
    expect(resolveText(ssm.Resource)).toMatch(/:parameter\/web-search-mcp\/tavily-api-key$/);
    const kms = statements.find((statement) => statement.Action === 'kms:Decrypt')!;
    expect(Object.keys(kms.Condition.StringEquals)).toEqual(['kms:ViaService', 'kms:EncryptionContext:PARAMETER_ARN']);
    const decrypters = policies.filter((policy) => JSON.stringify(policy.PolicyDocument).includes('kms:Decrypt'));
    expect(decrypters).toHaveLength(1);
  });

  test('the Tavily key never reaches a function environment; the MCP function gets the parameter name', () => {
    for (const [id, fn] of byType('AWS::Lambda::Function')) {
      const variables = fn.Properties.Environment?.Variables ?? {};
      expect(variables.TAVILY_API_KEY).toBeUndefined();
      if (id.startsWith('McpFunction')) expect(variables.TAVILY_API_KEY_PARAMETER).toBe('/web-search-mcp/tavily-api-key');
      else expect(variables.TAVILY_API_KEY_PARAMETER).toBeUndefined();
    }
  });

  test('the authorizer checks the deployed endpoint URL as audience unless RESOURCE_IDENTIFIER is set', () => {
    const authorizer = resources[functionIdOf('authorizer')]!.Properties.Environment.Variables;
    expect(resolveText(authorizer.RESOURCE_IDENTIFIER)).toBe(`${BASE}/web-search/mcp`);
    const custom = synth(settingsFrom({ RESOURCE_IDENTIFIER: 'https://mcp.example.com/web-search/mcp' })).template!;
    custom.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { RESOURCE_IDENTIFIER: 'https://mcp.example.com/web-search/mcp', SCALEKIT_RESOURCE_ID: 'res_1234567890' } },
    });
  });
});

describe('stage and outputs', () => {
  test('throttling, access logging and error-level execution logs without data tracing', () => {
    const [, stage] = byType('AWS::ApiGateway::Stage')[0]!;
    expect(stage.Properties.StageName).toBe(STAGE_NAME);
    expect(stage.Properties.MethodSettings[0]).toMatchObject({
      ThrottlingRateLimit: 50,
      ThrottlingBurstLimit: 100,
      LoggingLevel: 'ERROR',
      DataTraceEnabled: false,
    });
    const format = JSON.parse(stage.Properties.AccessLogSetting.Format);
    expect(format).toMatchObject({ requestId: '$context.requestId', status: '$context.status' });
  });

  test('outputs: MCP URL, metadata URL, resource identifier and the metadata document', () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(resolveText(outputs.McpUrl!.Value)).toBe(`${BASE}/web-search/mcp`);
    expect(resolveText(outputs.ProtectedResourceMetadataUrl!.Value)).toBe(PRM_URL);
    expect(resolveText(outputs.ResourceIdentifier!.Value)).toBe(`${BASE}/web-search/mcp`);
    expect(outputs.ProtectedResourceMetadata).toBeDefined();
  });
});

describe('cdk-nag AwsSolutions', () => {
  type Report = {
    pluginReports: Array<{ conclusion: string; violations: unknown[]; suppressedViolations: Array<{ ruleName: string; reason: string }> }>;
  };
  const reportOf = (app: App): Report => JSON.parse(readFileSync(join(app.outdir, 'validation-report.json'), 'utf8'));

  test('no unacknowledged finding, and every acknowledgement gives a reason', () => {
    const { app } = synth(settings, { withNag: true });
    expect(() => app.synth()).not.toThrow();
    const [nag] = reportOf(app).pluginReports;
    expect(nag!.conclusion).toBe('success');
    expect(nag!.violations).toEqual([]);
    for (const acknowledged of nag!.suppressedViolations) expect(acknowledged.reason.length).toBeGreaterThan(60);
  });

  test('a new finding fails the synth (the check is live)', () => {
    const { app } = synth(settings, {
      withNag: true,
      change: (stack) => stack.functions.register.addToRolePolicy(new PolicyStatement({ actions: ['s3:*'], resources: ['*'] })),
    });
    expect(() => app.synth()).toThrow(/AwsSolutions-IAM5/);
    expect(JSON.stringify(reportOf(app).pluginReports[0]!.violations)).toContain('AwsSolutions-IAM5');
  });
});

describe('configuration', () => {
  test('every bad setting is named in one message', () => {
    expect.assertions(4);
    try {
      parseDeploySettings(() => undefined, { SCALEKIT_RESOURCE_ID: 'nope', AUTHORIZER_CACHE_TTL_SECONDS: '7200', ALLOWED_ORIGINS: 'ftp://x' });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigurationError);
      const message = (error as Error).message;
      expect(message).toContain('SCALEKIT_ENVIRONMENT_URL: missing');
      expect(message).toMatch(/SCALEKIT_RESOURCE_ID: expected .*got "nope"/);
      expect(message).toMatch(/AUTHORIZER_CACHE_TTL_SECONDS: .*got "7200"[\s\S]*ALLOWED_ORIGINS/);
    }
  });

  test('context wins over the environment', () => {
    const parsed = parseDeploySettings(
      (key) => ({ SCALEKIT_RESOURCE_ID: 'res_fromcontext', THROTTLE_RATE_LIMIT: 7 })[key as 'THROTTLE_RATE_LIMIT'],
      exampleEnvironment,
    );
    expect(parsed.resourceId).toBe('res_fromcontext');
    expect(parsed.throttleRateLimit).toBe(7);
  });
});

describe('operations: observability, custom domain, WAF', () => {
  const CERTIFICATE = 'arn:aws:acm:eu-west-1:123456789012:certificate/12345678-1234-1234-1234-123456789012';

  test('alarms on the API 5xx rate, the authorizer losing its keys, Tavily failing, research failing, and throttles; no topic without an email', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((alarm) => alarm.Properties);
    // The other two, the usage table's (store errors, quotas not enforced), are tested with the table (test/stack/usage-table.test.ts).
    expect(alarms).toHaveLength(7);
    const describing = (text: string) => alarms.find((alarm) => String(alarm.AlarmDescription).includes(text));
    expect(describing('5xx')).toMatchObject({ MetricName: '5XXError', Namespace: 'AWS/ApiGateway', Threshold: 0.05 });
    expect(describing('signing keys')).toMatchObject({
      MetricName: 'AuthorizerDecisions',
      Namespace: 'WebSearchMcp',
      Dimensions: expect.arrayContaining([{ Name: 'Outcome', Value: 'unavailable' }]),
    });
    expect(JSON.stringify(describing('Tavily'))).toContain('TavilyErrors');
    expect(JSON.stringify(describing('throttled'))).toContain('Throttles');
    // Research: the share of finished researches that failed, per hour, and nothing when none finished.
    const research = describing('researches')!;
    expect(research).toMatchObject({ Threshold: 25, EvaluationPeriods: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', TreatMissingData: 'notBreaching' });
    const queries = research.Metrics as Array<{ Id: string; Expression?: string; MetricStat?: { Metric: { MetricName: string }; Period: number } }>;
    expect(queries.find((query) => query.Expression)!.Expression).toBe(
      'IF(FILL(completed, 0) + FILL(failed, 0) > 0, 100 * FILL(failed, 0) / (FILL(completed, 0) + FILL(failed, 0)), 0)',
    );
    expect(queries.filter((query) => query.MetricStat).map((query) => [query.Id, query.MetricStat!.Metric.MetricName, query.MetricStat!.Period])).toEqual([
      ['completed', 'ResearchCompleted', 3600],
      ['failed', 'ResearchFailed', 3600],
    ]);
    for (const alarm of alarms) expect(alarm.AlarmActions).toBeUndefined();
    template.resourceCountIs('AWS::SNS::Topic', 0);
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });

  test('ALARM_EMAIL: an SSL-only topic with the email subscribed, receiving every alarm', () => {
    const withEmail = synth(settingsFrom({ ALARM_EMAIL: 'ops@example.com' })).template!;
    withEmail.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
    for (const alarm of Object.values(withEmail.findResources('AWS::CloudWatch::Alarm'))) {
      expect(alarm.Properties.AlarmActions).toHaveLength(1);
    }
    expect(JSON.stringify(withEmail.findResources('AWS::SNS::TopicPolicy'))).toContain('aws:SecureTransport');
  });

  test('log retention and log level come from the settings', () => {
    const custom = synth(settingsFrom({ LOG_RETENTION_DAYS: '90', LOG_LEVEL: 'debug' })).template!;
    for (const group of Object.values(custom.findResources('AWS::Logs::LogGroup'))) expect(group.Properties.RetentionInDays).toBe(90);
    for (const fn of Object.values(custom.findResources('AWS::Lambda::Function'))) {
      expect(fn.Properties.Environment.Variables.LOG_LEVEL).toBe('DEBUG');
    }
  });

  test('POST /oauth/register has its own, tighter throttling', () => {
    const [, stage] = byType('AWS::ApiGateway::Stage')[0]!;
    expect(stage.Properties.MethodSettings).toContainEqual(
      expect.objectContaining({ HttpMethod: 'POST', ResourcePath: '/~1oauth~1register', ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 }),
    );
  });

  test('tracing: active on functions and stage, with the Powertools layer of the bundled version', () => {
    const traced = synth(settingsFrom({ TRACING_ENABLED: 'true' })).template!;
    for (const fn of Object.values(traced.findResources('AWS::Lambda::Function'))) {
      expect(fn.Properties.TracingConfig).toEqual({ Mode: 'Active' });
      expect(fn.Properties.Layers).toHaveLength(1);
      expect(fn.Properties.Environment.Variables.POWERTOOLS_TRACE_ENABLED).toBe('true');
    }
    traced.hasResourceProperties('AWS::ApiGateway::Stage', { TracingEnabled: true });
    expect(JSON.stringify(traced.toJSON().Parameters)).toContain('/aws/service/powertools/typescript/generic/all/2.35.0');
    // Without tracing: no layer, no tracer.
    for (const [, fn] of byType('AWS::Lambda::Function')) {
      expect(fn.Properties.Layers).toBeUndefined();
      expect(fn.Properties.Environment.Variables.POWERTOOLS_TRACE_ENABLED).toBeUndefined();
    }
  });

  test('the layer version is the Powertools version installed and bundled', () => {
    for (const name of ['logger', 'metrics', 'tracer', 'parameters', 'commons']) {
      const manifest = JSON.parse(readFileSync(new URL(`../../node_modules/@aws-lambda-powertools/${name}/package.json`, import.meta.url), 'utf8'));
      expect(`${name}@${manifest.version}`).toBe(`${name}@${POWERTOOLS_VERSION}`);
    }
  });

  test('custom domain: the API at its root, everything named after the domain, the execute-api URL off', () => {
    const domain = synth(
      settingsFrom({ CUSTOM_DOMAIN_NAME: 'mcp.example.com', CUSTOM_DOMAIN_CERTIFICATE_ARN: CERTIFICATE, CUSTOM_DOMAIN_HOSTED_ZONE_ID: 'Z0123456789ABCDEFGHIJ' }),
    ).template!;
    domain.hasResourceProperties('AWS::ApiGateway::DomainName', {
      DomainName: 'mcp.example.com',
      RegionalCertificateArn: CERTIFICATE,
      SecurityPolicy: 'TLS_1_2',
      EndpointConfiguration: { Types: ['REGIONAL'] },
    });
    const mapping = Object.values(domain.findResources('AWS::ApiGateway::BasePathMapping'))[0]!;
    expect(mapping.Properties.BasePath).toBeUndefined();
    domain.hasResourceProperties('AWS::ApiGateway::RestApi', { DisableExecuteApiEndpoint: true });
    const records = Object.values(domain.findResources('AWS::Route53::RecordSet')).map((record) => [record.Properties.Type, record.Properties.Name]);
    expect(records).toEqual(expect.arrayContaining([['A', 'mcp.example.com.'], ['AAAA', 'mcp.example.com.']]));

    const unauthorized = Object.values(domain.findResources('AWS::ApiGateway::GatewayResponse')).find(
      (response) => response.Properties.ResponseType === 'UNAUTHORIZED',
    )!;
    expect(unauthorized.Properties.ResponseParameters['gatewayresponse.header.WWW-Authenticate']).toBe(
      `'Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/web-search/mcp", scope="web-search:read"'`,
    );
    const outputs = domain.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs.McpUrl!.Value).toBe('https://mcp.example.com/web-search/mcp');
    expect(outputs.ResourceIdentifier!.Value).toBe('https://mcp.example.com/web-search/mcp');
    domain.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { RESOURCE_IDENTIFIER: 'https://mcp.example.com/web-search/mcp', SCALEKIT_RESOURCE_ID: 'res_1234567890' } },
    });
  });

  test('custom domain without a hosted zone: no records, and an output naming the alias target', () => {
    const domain = synth(settingsFrom({ CUSTOM_DOMAIN_NAME: 'mcp.example.com', CUSTOM_DOMAIN_CERTIFICATE_ARN: CERTIFICATE })).template!;
    domain.resourceCountIs('AWS::Route53::RecordSet', 0);
    expect(domain.toJSON().Outputs.CustomDomainTarget).toBeDefined();
  });

  test('a domain without a certificate (or the reverse) is refused at synth', () => {
    expect(() => settingsFrom({ CUSTOM_DOMAIN_NAME: 'mcp.example.com' })).toThrow(/CUSTOM_DOMAIN_NAME and CUSTOM_DOMAIN_CERTIFICATE_ARN/);
    expect(() => settingsFrom({ CUSTOM_DOMAIN_CERTIFICATE_ARN: CERTIFICATE })).toThrow(/set both/);
    expect(() => settingsFrom({ CUSTOM_DOMAIN_HOSTED_ZONE_ID: 'Z0123456789ABCDEFGHIJ' })).toThrow(/CUSTOM_DOMAIN_HOSTED_ZONE_ID/);
  });

  test('WAF_ENABLED: a regional web ACL with the common rule set and a per-IP rate rule, on the stage', () => {
    template.resourceCountIs('AWS::WAFv2::WebACL', 0);
    const protectedApi = synth(settingsFrom({ WAF_ENABLED: 'true', WAF_RATE_LIMIT: '500' })).template!;
    const acl = Object.values(protectedApi.findResources('AWS::WAFv2::WebACL'))[0]!.Properties;
    expect(acl.Scope).toBe('REGIONAL');
    expect(acl.Rules.map((rule: { Name: string }) => rule.Name)).toEqual(['RatePerClientIp', 'AwsCommonRuleSet']);
    expect(acl.Rules[0].Statement.RateBasedStatement).toEqual({ Limit: 500, AggregateKeyType: 'IP' });
    protectedApi.resourceCountIs('AWS::WAFv2::WebACLAssociation', 1);
  });

  test('every option on at once still passes cdk-nag', () => {
    const { app } = synth(
      settingsFrom({
        CUSTOM_DOMAIN_NAME: 'mcp.example.com',
        CUSTOM_DOMAIN_CERTIFICATE_ARN: CERTIFICATE,
        CUSTOM_DOMAIN_HOSTED_ZONE_ID: 'Z0123456789ABCDEFGHIJ',
        TRACING_ENABLED: 'true',
        ALARM_EMAIL: 'ops@example.com',
        WAF_ENABLED: 'true',
      }),
      { withNag: true },
    );
    expect(() => app.synth()).not.toThrow();
  });
});
