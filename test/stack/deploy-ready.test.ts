/**
 * What only a real AWS account would otherwise catch, checked on the synthesized
 * templates: who may publish to the alarm topic, alarm expressions PutMetricAlarm
 * accepts, names that two stacks (or two regions) cannot share, timeouts that cover
 * the calls they wait on, method settings that keep logging, the execution log
 * group, the bundles (how they are built and how they load the AWS SDK), the custom
 * domain's certificate region and address families, and environment sizes.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { JWKS_DEFAULTS } from '../../lambda/authorizer/signing-keys.js';
import { RESPONSE_MARGIN_MS } from '../../lambda/mcp/mcp-endpoint.js';
import { SITE_WALK_TIMEOUT_RANGE } from '../../lambda/mcp/tools/site-walk.js';
import { TAVILY_TIMEOUT_MARGIN_MS } from '../../lambda/mcp/tools/tavily-request.js';
import { REGISTRATION_LIMITS } from '../../lambda/register/registration-proxy.js';
import { AS_METADATA_DEFAULTS } from '../../lambda/shared/authorization-server-metadata.js';
import { ConfigurationError } from '../../lambda/shared/settings.js';
import { EXTERNAL_MODULES, LAZY_FILES, loadEsbuild } from '../../lib/bundling.js';
import { environmentSize, environmentSizeProblem, LAMBDA_ENVIRONMENT_LIMIT_BYTES } from '../../lib/environment-size.js';
import { API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS, functionSpecs, UPSTREAM_MARGIN_MS } from '../../lib/functions.js';
import { STAGE_NAME } from '../../lib/web-search-mcp-stack.js';
import { CERTIFICATE_ARN, CUSTOM_DOMAIN, EVERYTHING_ON, synthStack } from './variants.js';

type Resource = { Type: string; Properties: Record<string, any>; DependsOn?: string[]; DeletionPolicy?: string; Metadata?: Record<string, any> };
type TemplateJson = { Resources: Record<string, Resource>; Outputs?: Record<string, { Value: unknown }>; Rules?: Record<string, any> };

const templateOf = (overrides: Record<string, string> = {}, options: Parameters<typeof synthStack>[1] = {}) =>
  Template.fromStack(synthStack(overrides, options).stack).toJSON() as TemplateJson;
const ofType = (template: TemplateJson, type: string) => Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);
const functionOf = (template: TemplateJson, name: string) =>
  ofType(template, 'AWS::Lambda::Function').find(([id]) => id.startsWith(`${name[0]!.toUpperCase()}${name.slice(1)}Function`))!;

const everything = templateOf(EVERYTHING_ON);
const defaults = templateOf();

describe('the alarm topic', () => {
  const [[, policy]] = ofType(everything, 'AWS::SNS::TopicPolicy') as [[string, Resource]];
  const statements = policy.Properties.PolicyDocument.Statement as Array<Record<string, any>>;
  const [[topicId]] = ofType(everything, 'AWS::SNS::Topic') as [[string, Resource]];

  test('keeps the TLS-only Deny', () => {
    expect(statements).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Action: 'sns:Publish', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
  });

  test("lets CloudWatch publish, for this account's alarms that notify it and no others", () => {
    const allows = statements.filter((statement) => statement.Effect === 'Allow');
    expect(allows).toHaveLength(1);
    const [allow] = allows as [Record<string, any>];
    expect(allow).toMatchObject({ Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: 'sns:Publish', Resource: { Ref: topicId } });
    expect(allow.Condition.StringEquals).toEqual({ 'aws:SourceAccount': { Ref: 'AWS::AccountId' } });
    const notifying = ofType(everything, 'AWS::CloudWatch::Alarm')
      .filter(([, alarm]) => JSON.stringify(alarm.Properties.AlarmActions ?? []).includes(topicId))
      .map(([id]) => ({ 'Fn::GetAtt': [id, 'Arn'] }));
    // Every alarm, the usage table's too, notifies the topic, and each may publish.
    expect(notifying).toHaveLength(ofType(everything, 'AWS::CloudWatch::Alarm').length);
    const byId = (a: { 'Fn::GetAtt': string[] }, b: { 'Fn::GetAtt': string[] }) => a['Fn::GetAtt'][0]!.localeCompare(b['Fn::GetAtt'][0]!);
    expect([...allow.Condition.ArnEquals['aws:SourceArn']].sort(byId)).toEqual(notifying.sort(byId));
  });
});

describe('alarm expressions', () => {
  const mathAlarms = ofType(everything, 'AWS::CloudWatch::Alarm').filter(([, alarm]) => alarm.Properties.Metrics);

  test.each(mathAlarms.map(([id, alarm]) => [id, alarm] as const))('%s: one result, only its own metrics, no constants among time series', (_id, alarm) => {
    const metrics = alarm.Properties.Metrics as Array<{ Id: string; Expression?: string; ReturnData?: boolean }>;
    const ids = new Set(metrics.map((metric) => metric.Id));
    expect(metrics.filter((metric) => metric.ReturnData !== false)).toHaveLength(1);
    for (const { Expression: expression } of metrics.filter((metric) => metric.Expression)) {
      // Every name is a function (followed by a parenthesis) or one of this alarm's metrics.
      for (const match of expression!.matchAll(/\b([A-Za-z_][A-Za-z0-9_]*)\b(\s*\()?/g)) {
        if (!match[2]) expect(ids).toContain(match[1]);
      }
      // An array of time series holds time series only: MAX([calls, 1]) is what PutMetricAlarm may refuse.
      for (const [, items] of expression!.matchAll(/\[([^\]]*)\]/g)) {
        for (const item of items!.split(',')) expect(ids).toContain(item.trim());
      }
    }
  });

  test('the Tavily error rate is guarded by IF, not by a constant in MAX', () => {
    const expressions = mathAlarms.flatMap(([, alarm]) => (alarm.Properties.Metrics as Array<{ Expression?: string }>).map((metric) => metric.Expression));
    expect(expressions).toContain('IF(calls > 0, 100 * FILL(errors, 0) / calls, 0)');
    expect(expressions.join(' ')).not.toMatch(/MAX\(/);
  });
});

describe('names', () => {
  /** Physical names a resource is created under: top-level `…Name` properties, and WAF's metric names (CloudWatch dimensions). */
  function namesIn(template: TemplateJson): Map<string, string> {
    const names = new Map<string, string>();
    for (const [id, resource] of Object.entries(template.Resources)) {
      for (const [key, value] of Object.entries(resource.Properties ?? {})) {
        // A value holding another resource's id (its Ref) is as unique as that resource.
        const holdsResourceId = /"Ref":"(?!AWS::)/.test(JSON.stringify(value)) || JSON.stringify(value).includes('"Fn::GetAtt"');
        if (key.endsWith('Name') && !holdsResourceId) {
          names.set(`${resource.Type}.${key} (${id})`, JSON.stringify(value));
        }
      }
      const metricName = resource.Properties?.VisibilityConfig?.MetricName;
      if (metricName) names.set(`${resource.Type}.VisibilityConfig.MetricName (${id})`, JSON.stringify(metricName));
    }
    return names;
  }

  /** Names that may be equal in two stacks: each is scoped to something of its stack, or is the operator's to choose. */
  const SCOPED = new Map([
    ['AWS::ApiGateway::Stage.StageName', "a stage's name is scoped to its API"],
    ['AWS::IAM::Policy.PolicyName', "an inline policy's name is scoped to its role"],
    ['AWS::Lambda::Alias.Name', "an alias's name is scoped to its function (PROVISIONED_CONCURRENCY's `live`)"],
    ['AWS::SNS::Topic.DisplayName', "an email's sender name, not an identifier"],
    ['AWS::CloudWatch::Alarm.MetricName', 'the metric an alarm watches, not a name of its own'],
    ['AWS::ApiGateway::DomainName.DomainName', "the operator's domain (CUSTOM_DOMAIN_NAME), one stack per domain"],
    ['AWS::Route53::RecordSet.Name', "the operator's domain's records"],
  ]);

  test('a second stack in the same region shares no name with the first', () => {
    const other = namesIn(templateOf(EVERYTHING_ON, { stackName: 'WebSearchMcpStaging' }));
    const shared = [...namesIn(everything)]
      .filter(([key, value]) => [...other].some(([otherKey, otherValue]) => otherKey === key && otherValue === value))
      .map(([key]) => key.replace(/ \(.*\)$/, ''))
      .filter((kind) => !SCOPED.has(kind));
    expect(shared).toEqual([]);
  });

  test('the dashboard, whose name is global to the account, is named after the stack and its region', () => {
    const [[, dashboard]] = ofType(everything, 'AWS::CloudWatch::Dashboard') as [[string, Resource]];
    expect(dashboard.Properties.DashboardName).toEqual({ 'Fn::Join': ['', ['WebSearchMcp-', { Ref: 'AWS::Region' }]] });
  });

  test("the API's name, its metrics' ApiName dimension, is the stack's, and so is the alarms' dimension", () => {
    const [[, api]] = ofType(defaults, 'AWS::ApiGateway::RestApi') as [[string, Resource]];
    expect(api.Properties.Name).toBe('WebSearchMcp');
    const apiAlarms = ofType(defaults, 'AWS::CloudWatch::Alarm').filter(([, alarm]) => alarm.Properties.Namespace === 'AWS/ApiGateway');
    expect(apiAlarms.length).toBeGreaterThan(0);
    for (const [, alarm] of apiAlarms) expect(alarm.Properties.Dimensions).toContainEqual({ Name: 'ApiName', Value: 'WebSearchMcp' });
  });
});

describe('timeouts cover the calls they wait on', () => {
  const timeout = (name: string) => functionOf(defaults, name)[1].Properties.Timeout as number;

  test('the template holds the functions table’s timeouts', () => {
    for (const spec of Object.values(functionSpecs)) expect(timeout(spec.name)).toBe(spec.timeoutSeconds);
  });

  test('register outlasts a cold fetch of the AS metadata, then the registration request', () => {
    expect(timeout('register') * 1000).toBeGreaterThanOrEqual(AS_METADATA_DEFAULTS.timeoutMs + REGISTRATION_LIMITS.timeoutMs + UPSTREAM_MARGIN_MS);
  });

  test('metadata outlasts its AS metadata fetch, and the authorizer its JWKS fetch', () => {
    expect(timeout('metadata') * 1000).toBeGreaterThanOrEqual(AS_METADATA_DEFAULTS.timeoutMs + UPSTREAM_MARGIN_MS);
    expect(timeout('authorizer') * 1000).toBeGreaterThanOrEqual(JWKS_DEFAULTS.timeoutMs + UPSTREAM_MARGIN_MS);
  });

  test("every function answers before API Gateway's 29 s, and the MCP function leaves Tavily its least crawl timeout", () => {
    for (const spec of Object.values(functionSpecs)) expect(timeout(spec.name)).toBeLessThan(API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS);
    // The tools' deadline is the invocation's remaining time less the response margin; Tavily is told to stop before it.
    expect(timeout('mcp') * 1000 - RESPONSE_MARGIN_MS - TAVILY_TIMEOUT_MARGIN_MS).toBeGreaterThanOrEqual(SITE_WALK_TIMEOUT_RANGE.min * 1000);
  });
});

describe('the stage', () => {
  test('every method setting keeps the stage’s logging, metrics and data tracing', () => {
    const [[, stage]] = ofType(defaults, 'AWS::ApiGateway::Stage') as [[string, Resource]];
    const settings = stage.Properties.MethodSettings as Array<Record<string, unknown>>;
    const stageWide = settings.find((setting) => setting.ResourcePath === '/*' && setting.HttpMethod === '*')!;
    expect(stageWide).toMatchObject({ LoggingLevel: 'ERROR', MetricsEnabled: true, DataTraceEnabled: false });
    expect(settings.length).toBeGreaterThan(1); // the register route's throttling
    for (const setting of settings) {
      expect({ LoggingLevel: setting.LoggingLevel, MetricsEnabled: setting.MetricsEnabled, DataTraceEnabled: setting.DataTraceEnabled }).toEqual({
        LoggingLevel: stageWide.LoggingLevel,
        MetricsEnabled: stageWide.MetricsEnabled,
        DataTraceEnabled: stageWide.DataTraceEnabled,
      });
    }
  });

  test('the execution log group is the stack’s, under the name API Gateway writes to, made before the stage', () => {
    const custom = templateOf({ LOG_RETENTION_DAYS: '90' });
    const [[apiId]] = ofType(custom, 'AWS::ApiGateway::RestApi') as [[string, Resource]];
    const groups = ofType(custom, 'AWS::Logs::LogGroup').filter(([, group]) => group.Properties.LogGroupName);
    expect(groups).toHaveLength(1);
    const [[groupId, group]] = groups as [[string, Resource]];
    expect(group.Properties).toEqual({
      LogGroupName: { 'Fn::Join': ['', ['API-Gateway-Execution-Logs_', { Ref: apiId }, `/${STAGE_NAME}`]] },
      RetentionInDays: 90,
    });
    expect(group.DeletionPolicy).toBe('Delete');
    const [[, stage]] = ofType(custom, 'AWS::ApiGateway::Stage') as [[string, Resource]];
    expect(stage.DependsOn).toContain(groupId);
  });
});

describe('the bundles', () => {
  const { app } = synthStack({}, { bundle: true, context: { 'aws:cdk:enable-asset-metadata': true } });
  const assembly = app.synth();
  const template = assembly.getStackByName('WebSearchMcp').template as TemplateJson;
  const directoryOf = (name: string) => join(assembly.directory, functionOf(template, name)[1].Metadata!['aws:asset:path']);
  const bundleOf = (name: string) => {
    const directory = directoryOf(name);
    return Object.fromEntries(
      readdirSync(directory)
        .filter((file) => file.endsWith('.js'))
        .map((file) => [file, readFileSync(join(directory, file), 'utf8')]),
    );
  };
  /** The files esbuild bundled into a function's `file`, as its source map lists them. */
  const sourcesOf = (name: string, file: string) =>
    (JSON.parse(readFileSync(join(directoryOf(name), `${file}.map`), 'utf8')) as { sources: string[] }).sources;

  test('each function’s asset holds its entry as index.js and, beside it, the files it loads lazily', () => {
    for (const spec of Object.values(functionSpecs)) {
      const lazy = (LAZY_FILES[spec.name] ?? []).map((file) => file.import.replace(/^\.\//, ''));
      expect(Object.keys(bundleOf(spec.name)).sort()).toEqual(['index.js', ...lazy].sort());
    }
  });

  test("the tracer layer's modules are loaded with require, never with import()", () => {
    const externals = EXTERNAL_MODULES.map((pattern) => pattern.replace(/\*$/, ''));
    const loads = Object.values(functionSpecs).flatMap((spec) =>
      Object.entries(bundleOf(spec.name)).flatMap(([file, text]) =>
        [...text.matchAll(/\b(import|require)\("([^"]+)"\)/g)]
          .filter(([, , module]) => externals.some((external) => module!.startsWith(external)))
          .map(([, how, module]) => `${spec.name}/${file}: ${how} ${module}`),
      ),
    );
    expect(loads.filter((load) => load.includes(': import '))).toEqual([]);
    // What each function does load, so that the check above cannot pass on an empty list.
    expect(loads).toEqual(
      expect.arrayContaining(['authorizer/index.js: require @aws-lambda-powertools/tracer', 'mcp/index.js: require @aws-lambda-powertools/tracer']),
    );
  });

  test('no function bundles or loads the AWS SDK: DynamoDB and SSM are reached through aws-json and aws4', () => {
    const sdk = /@aws-sdk\/|@smithy\//;
    const found = Object.values(functionSpecs).flatMap((spec) =>
      Object.entries(bundleOf(spec.name)).flatMap(([file, text]) => [
        ...[...text.matchAll(/\b(?:import|require)\("((?:@aws-sdk|@smithy)\/[^"]+)"\)/g)].map(([, module]) => `${spec.name}/${file} loads ${module}`),
        ...sourcesOf(spec.name, file)
          .filter((source) => sdk.test(source))
          .map((source) => `${spec.name}/${file} bundles ${source}`),
        ...(sdk.test(text) ? [`${spec.name}/${file} names ${sdk.exec(text)![0]}`] : []),
      ]),
    );
    expect(found).toEqual([]);
    // Where they are reached instead, so that the check above cannot pass on bundles that lost them.
    for (const [name, file] of [['authorizer', 'index.js'], ['mcp', 'tool-runtime.js']] as const) {
      const sources = sourcesOf(name, file);
      expect(sources.some((source) => source.endsWith('lambda/shared/aws-json.ts'))).toBe(true);
      expect(sources.some((source) => source.includes('node_modules/aws4/'))).toBe(true);
    }
  });

  test('without esbuild the synth stops with what to do, instead of trying Docker', () => {
    const missing = (id: string) => {
      throw Object.assign(new Error(`Cannot find module '${id}'`), { code: 'MODULE_NOT_FOUND' });
    };
    expect(() => loadEsbuild(missing)).toThrow(ConfigurationError);
    expect(() => loadEsbuild(missing)).toThrow(/esbuild: not installed.*never in Docker.*Run `npm ci` with the development dependencies/);
    expect(loadEsbuild().version).toMatch(/^0\./);
  });
});

describe('the custom domain', () => {
  test('a certificate from another region than a known stack region stops the synth', () => {
    expect(() => synthStack(CUSTOM_DOMAIN, { env: { region: 'us-east-1' } })).toThrow(ConfigurationError);
    expect(() => synthStack(CUSTOM_DOMAIN, { env: { region: 'us-east-1' } })).toThrow(
      /CUSTOM_DOMAIN_CERTIFICATE_ARN: the certificate is in eu-west-1, but the stack deploys to us-east-1/,
    );
    const sameRegion = Template.fromStack(synthStack(CUSTOM_DOMAIN, { env: { region: 'eu-west-1' } }).stack).toJSON() as TemplateJson;
    expect(ofType(sameRegion, 'AWS::ApiGateway::DomainName')).toHaveLength(1);
    expect(sameRegion.Rules?.CertificateInStackRegion).toBeUndefined();
  });

  test('with the region known only at deploy, a CloudFormation rule compares them before anything is created', () => {
    const rule = everything.Rules!.CertificateInStackRegion;
    expect(rule.Assertions).toEqual([
      { Assert: { 'Fn::Equals': [CERTIFICATE_ARN.split(':')[3], { Ref: 'AWS::Region' }] }, AssertDescription: expect.stringContaining('CUSTOM_DOMAIN_CERTIFICATE_ARN') },
    ]);
    expect(defaults.Rules?.CertificateInStackRegion).toBeUndefined();
  });

  test('the A and AAAA records lead to a dual-stack domain of a dual-stack API', () => {
    const [[, domain]] = ofType(everything, 'AWS::ApiGateway::DomainName') as [[string, Resource]];
    const [[, api]] = ofType(everything, 'AWS::ApiGateway::RestApi') as [[string, Resource]];
    const records = ofType(everything, 'AWS::Route53::RecordSet').map(([, record]) => record.Properties.Type).sort();
    expect(records).toEqual(['A', 'AAAA']);
    expect(domain.Properties.EndpointConfiguration).toEqual({ Types: ['REGIONAL'], IpAddressType: 'dualstack' });
    expect(api.Properties.EndpointConfiguration).toEqual({ Types: ['REGIONAL'], IpAddressType: 'dualstack' });
  });

  test('the outputs name the domain’s URL, never the execute-api URL it switched off', () => {
    const outputs = everything.Outputs!;
    expect(outputs.McpUrl!.Value).toBe('https://mcp.example.com/web-search/mcp');
    expect(JSON.stringify(outputs)).not.toContain('execute-api');
    // Without a domain, the execute-api URL is the one to use.
    expect(JSON.stringify(defaults.Outputs!.McpUrl!.Value)).toContain('.execute-api.');
  });
});

describe('environment sizes', () => {
  const longestOf = (intrinsic: Record<string, unknown>) => ({ 'AWS::Region': 32 })[intrinsic.Ref as string];

  test('deploy-time values count at their longest, literal text as it is', () => {
    const size = environmentSize({ URL: { 'Fn::Join': ['', ['https://x.', { Ref: 'AWS::Region' }, '/y']] }, A: 'ab' }, longestOf);
    // {"URL":"https://x.<32>/y","A":"ab"}
    expect(size.bytes).toBe(JSON.stringify({ URL: `https://x.${'r'.repeat(32)}/y`, A: 'ab' }).length + 1);
    expect(size.variables.map((each) => each.name)).toEqual(['URL', 'A']);
    const unknown = environmentSize({ X: { 'Fn::GetAtt': ['Thing', 'Arn'] } }, longestOf);
    expect(unknown.unbounded).toEqual(['X']);
    expect(environmentSizeProblem('mcp', unknown)).toMatch(/The mcp function's environment cannot be sized: X holds a deploy-time value/);
  });

  test('every function of the everything-on stack fits, with room to spare', () => {
    for (const template of [defaults, everything]) {
      for (const [, fn] of ofType(template, 'AWS::Lambda::Function')) {
        const literal = JSON.stringify(fn.Properties.Environment.Variables).length;
        expect(literal).toBeLessThan(LAMBDA_ENVIRONMENT_LIMIT_BYTES / 2);
      }
    }
  });

  test('QUOTA_OVERRIDES too long for the MCP function stops the synth, naming it', () => {
    const overrides = Array.from({ length: 120 }, (_, index) => `client:agent-${String(index).padStart(3, '0')}=calls:600,credits:50000`).join(';');
    expect(() => templateOf({ ...EVERYTHING_ON, QUOTA_OVERRIDES: overrides })).toThrow(
      /The mcp function's environment may take up to \d+ bytes, over Lambda's limit of 4096 bytes[^]*Largest: QUOTA_OVERRIDES \(\d+ bytes\)[^]*Shorten QUOTA_OVERRIDES/,
    );
  });

  test('ALLOWED_ORIGINS too long stops the synth, naming each function it reaches', () => {
    const origins = Array.from({ length: 150 }, (_, index) => `https://app-${index}.example.com`).join(',');
    let message = '';
    try {
      templateOf({ ALLOWED_ORIGINS: origins });
    } catch (error) {
      message = (error as Error).message;
    }
    for (const name of ['metadata', 'register', 'mcp']) expect(message).toMatch(new RegExp(`The ${name} function's environment[^\\n]*Shorten ALLOWED_ORIGINS`));
    expect(message).not.toContain('The authorizer function');
  });
});

test('the everything-on stack passes cdk-nag with no finding unacknowledged', () => {
  const { app } = synthStack(EVERYTHING_ON);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  expect(() => app.synth()).not.toThrow();
  const report = JSON.parse(readFileSync(join(app.outdir, 'validation-report.json'), 'utf8')) as { pluginReports: Array<{ conclusion: string }> };
  expect(report.pluginReports.map((each) => each.conclusion)).toEqual(['success']);
});
