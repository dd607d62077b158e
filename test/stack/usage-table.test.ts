/**
 * The usage table in the template (quotas, the result cache, research tasks): its shape is the one the local stack
 * builds on dynalite, only the MCP function may use it (only this table, only
 * the actions it uses), the removal policy is the operator's, the alarms and
 * the Contributor Insights rules are there, and cdk-nag stays clean.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { parseDeploySettings } from '../../lib/config.js';
import { USAGE_TABLE_ACTIONS } from '../../lib/usage-table.js';
import { WebSearchMcpStack } from '../../lib/web-search-mcp-stack.js';
import { createTableInput, USAGE_TABLE } from '../../lambda/mcp/quota/usage-table.js';

const exampleEnvironment = parseEnv(readFileSync(new URL('../../.env.example', import.meta.url), 'utf8'));

function synth(overrides: Record<string, string> = {}, withNag = false) {
  const settings = parseDeploySettings(() => undefined, { ...exampleEnvironment, ...overrides });
  const app = new App({ outdir: mkdtempSync(join(tmpdir(), 'cdk-usage-')) });
  const stack = new WebSearchMcpStack(app, 'WebSearchMcp', { settings });
  if (withNag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack, template: Template.fromStack(stack) };
}

const QUOTAS = { QUOTA_CALLS_PER_MINUTE: '30', QUOTA_CREDITS_PER_DAY: '500', QUOTA_CREDITS_PER_DAY_TOTAL: '5000', QUOTA_OVERRIDES: 'client:batch=calls:600' };
const { template, stack } = synth(QUOTAS);
const resources = template.toJSON().Resources as Record<string, { Type: string; Properties: Record<string, any>; DeletionPolicy?: string }>;
const ofType = (type: string) => Object.entries(resources).filter(([, resource]) => resource.Type === type);
const [tableId, table] = ofType('AWS::DynamoDB::Table')[0]!;

test('one on-demand table with the TTL attribute and the byDay index, as the local stack creates it', () => {
  expect(ofType('AWS::DynamoDB::Table')).toHaveLength(1);
  const local = createTableInput('x');
  expect(table.Properties).toMatchObject({
    BillingMode: 'PAY_PER_REQUEST',
    KeySchema: local.KeySchema,
    AttributeDefinitions: expect.arrayContaining(local.AttributeDefinitions),
    TimeToLiveSpecification: { AttributeName: USAGE_TABLE.ttlAttribute, Enabled: true },
    GlobalSecondaryIndexes: local.GlobalSecondaryIndexes,
  });
  expect(table.DeletionPolicy).toBe('Delete');
  expect(synth({ ...QUOTAS, USAGE_TABLE_REMOVAL_POLICY: 'retain' }).template.findResources('AWS::DynamoDB::Table')).toEqual(
    expect.objectContaining({ [tableId]: expect.objectContaining({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' }) }),
  );
});

test('only the MCP function may use it: this table (not its index), and only GetItem, PutItem, UpdateItem', () => {
  const granting = ofType('AWS::IAM::Policy').flatMap(([, policy]) =>
    (policy.Properties.PolicyDocument.Statement as Array<{ Action: string | string[]; Resource: unknown }>)
      .filter((statement) => JSON.stringify(statement).includes('dynamodb:'))
      .map((statement) => ({ roles: policy.Properties.Roles, statement })),
  );
  expect(granting).toHaveLength(1);
  const [{ roles, statement }] = granting as [{ roles: unknown; statement: { Action: string[]; Resource: unknown } }];
  expect([...statement.Action].sort()).toEqual([...USAGE_TABLE_ACTIONS].sort());
  expect(statement.Resource).toEqual({ 'Fn::GetAtt': [tableId, 'Arn'] });
  expect(JSON.stringify(roles)).toContain('McpFunctionRole');
});

test('the table name is an output, for npm run usage', () => {
  expect((template.toJSON().Outputs as Record<string, { Value: unknown }>).UsageTableName!.Value).toEqual({ Ref: tableId });
});

test('the function is told the table and the settings', () => {
  const mcp = ofType('AWS::Lambda::Function').find(([id]) => id.startsWith('McpFunction'))![1];
  expect(mcp.Properties.Environment.Variables).toMatchObject({
    USAGE_TABLE_NAME: { Ref: tableId },
    QUOTA_CALLS_PER_MINUTE: '30',
    QUOTA_CREDITS_PER_DAY: '500',
    QUOTA_CREDITS_PER_DAY_TOTAL: '5000',
    QUOTA_OVERRIDES: 'client:batch=calls:600',
    QUOTA_ON_STORE_ERROR: 'allow',
    CACHE_TTL_SECONDS: '600',
    CACHE_SCOPE: 'organization',
  });
  for (const [id, fn] of ofType('AWS::Lambda::Function')) {
    if (!id.startsWith('McpFunction')) expect(JSON.stringify(fn.Properties.Environment ?? {})).not.toContain('USAGE_TABLE');
  }
});

test('alarms: store errors, calls let through unchecked, and the total cap nearing (80%)', () => {
  const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((alarm) => alarm.Properties);
  expect(alarms.find((alarm) => alarm.MetricName === 'UsageStoreErrors')).toMatchObject({ Namespace: 'WebSearchMcp', Threshold: 1, Statistic: 'Sum' });
  expect(alarms.find((alarm) => alarm.MetricName === 'QuotaFailOpen')).toMatchObject({
    Namespace: 'WebSearchMcp',
    Dimensions: [{ Name: 'service', Value: 'mcp' }],
    Threshold: 1,
    Statistic: 'Sum',
  });
  expect(alarms.find((alarm) => alarm.MetricName === 'DailyCreditsUsed')).toMatchObject({ Threshold: 4000, Statistic: 'Maximum' });
  // Without a cap, no cap alarm.
  const uncapped = Object.values(synth({ QUOTA_CALLS_PER_MINUTE: '30' }).template.findResources('AWS::CloudWatch::Alarm'));
  expect(uncapped.some((alarm) => alarm.Properties.MetricName === 'DailyCreditsUsed')).toBe(false);
});

test('Contributor Insights: top callers by credits and by calls, from the MCP log group, no metric per caller', () => {
  const rules = ofType('AWS::CloudWatch::InsightRule').map(([, rule]) => rule.Properties);
  expect(rules).toHaveLength(2);
  const bodies = rules.map((rule) => JSON.stringify(stack.resolve(rule.RuleBody)));
  const credits = bodies.find((body) => body.includes('$.credits'))!;
  expect(credits).toContain('\\"AggregateOn\\":\\"Sum\\"');
  expect(credits).toContain('\\"Keys\\":[\\"$.client_id\\",\\"$.sub\\"]');
  expect(credits).toContain('McpFunctionLogs');
  expect(bodies.find((body) => body.includes('\\"AggregateOn\\":\\"Count\\"'))).toContain('\\"In\\":[\\"Usage\\"]');
});

test('with quotas and the cache both off the table stays, for research tasks: the function is told both are off, and where the table is', () => {
  const off = synth({ CACHE_TTL_SECONDS: '0' });
  off.template.resourceCountIs('AWS::DynamoDB::Table', 1);
  const mcp = Object.values(off.template.findResources('AWS::Lambda::Function')).find((fn) =>
    JSON.stringify(fn.Properties.Environment ?? {}).includes('TAVILY_API_BASE_URL'),
  )!;
  const variables = mcp.Properties.Environment.Variables as Record<string, unknown>;
  expect(variables).toMatchObject({ CACHE_TTL_SECONDS: '0', USAGE_TABLE_NAME: expect.anything(), TASK_TTL_SECONDS: '10800', RESEARCH_WAIT_SECONDS: '20' });
  expect(Object.keys(variables).filter((name) => name.startsWith('QUOTA_'))).toEqual([]);
  expect(JSON.stringify(off.template.toJSON())).toContain('dynamodb:UpdateItem');
});

test('cdk-nag AwsSolutions: no unacknowledged finding with the table', () => {
  const { app } = synth(QUOTAS, true);
  expect(() => app.synth()).not.toThrow();
  const report = JSON.parse(readFileSync(join(app.outdir, 'validation-report.json'), 'utf8'));
  const [nag] = report.pluginReports;
  expect(nag.conclusion).toBe('success');
  expect(nag.violations).toEqual([]);
  const acknowledged = (nag.suppressedViolations as Array<{ ruleId?: string; id?: string; reason: string }>).filter((each) => each.reason.includes('Point-in-time'));
  expect(acknowledged.length).toBeGreaterThan(0);
});
