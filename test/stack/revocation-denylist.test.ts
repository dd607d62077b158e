/**
 * Issue 12, case 4, on AWS: the revocation denylist reaches the authorizer, and
 * only the authorizer may read it, only that parameter, with nothing to decrypt;
 * cdk-nag stays clean. Without the setting there is no trace of it.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { parseDeploySettings } from '../../lib/config.js';
import { WebSearchMcpStack } from '../../lib/web-search-mcp-stack.js';
import { ConfigurationError } from '../../lambda/shared/settings.js';

const exampleEnvironment = parseEnv(readFileSync(new URL('../../.env.example', import.meta.url), 'utf8'));
const PARAMETER = '/web-search-mcp/revoked';

function synth(overrides: Record<string, string>, withNag = false) {
  const settings = parseDeploySettings(() => undefined, { ...exampleEnvironment, REVOCATION_DENYLIST_PARAMETER: '', ...overrides });
  const app = new App({ outdir: mkdtempSync(join(tmpdir(), 'cdk-test-')) });
  const stack = new WebSearchMcpStack(app, 'WebSearchMcp', { settings });
  if (withNag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}

type Resources = Record<string, { Type: string; Properties: Record<string, any> }>;
const resourcesOf = (stack: WebSearchMcpStack) => Template.fromStack(stack).toJSON().Resources as Resources;
const functions = (resources: Resources) => Object.entries(resources).filter(([, resource]) => resource.Type === 'AWS::Lambda::Function');
const policies = (resources: Resources) => Object.values(resources).filter((resource) => resource.Type === 'AWS::IAM::Policy');
const readersOf = (resources: Resources, name: string) =>
  policies(resources).filter((policy) => JSON.stringify(policy.Properties.PolicyDocument).includes(`parameter${name}`));

describe('with REVOCATION_DENYLIST_PARAMETER', () => {
  const { stack } = synth({ REVOCATION_DENYLIST_PARAMETER: PARAMETER });
  const resources = resourcesOf(stack);

  test('the authorizer gets the parameter name and a 60 s maxAge; no other function does', () => {
    for (const [id, fn] of functions(resources)) {
      const variables = fn.Properties.Environment?.Variables ?? {};
      if (id.startsWith('AuthorizerFunction')) {
        expect(variables.REVOCATION_DENYLIST_PARAMETER).toBe(PARAMETER);
        expect(variables.REVOCATION_DENYLIST_MAX_AGE_SECONDS).toBe('60');
      } else {
        expect(variables.REVOCATION_DENYLIST_PARAMETER).toBeUndefined();
      }
    }
  });

  test('only the authorizer may read it: ssm:GetParameter on exactly that parameter, no decryption', () => {
    const readers = readersOf(resources, PARAMETER);
    expect(readers).toHaveLength(1);
    expect(JSON.stringify(readers[0]!.Properties.Roles)).toContain('AuthorizerFunctionRole');
    const statements = readers[0]!.Properties.PolicyDocument.Statement as Array<Record<string, any>>;
    const statement = statements.find((candidate) => JSON.stringify(candidate.Resource).includes(PARAMETER))!;
    expect(statement.Action).toBe('ssm:GetParameter');
    expect(JSON.stringify(statement.Resource)).toMatch(/:parameter\/web-search-mcp\/revoked"/);
    expect(JSON.stringify(readers[0]!.Properties.PolicyDocument)).not.toContain('kms:');
  });

  test('cdk-nag AwsSolutions: no unacknowledged finding', () => {
    const { app } = synth({ REVOCATION_DENYLIST_PARAMETER: PARAMETER }, true);
    expect(() => app.synth()).not.toThrow();
    const report = JSON.parse(readFileSync(join(app.outdir, 'validation-report.json'), 'utf8'));
    expect(report.pluginReports[0].violations).toEqual([]);
  });

  test('a custom maxAge reaches the authorizer; a bad one fails the synth with its name', () => {
    const { stack: custom } = synth({ REVOCATION_DENYLIST_PARAMETER: PARAMETER, REVOCATION_DENYLIST_MAX_AGE_SECONDS: '15' });
    const [, authorizer] = functions(resourcesOf(custom)).find(([id]) => id.startsWith('AuthorizerFunction'))!;
    expect(authorizer.Properties.Environment.Variables.REVOCATION_DENYLIST_MAX_AGE_SECONDS).toBe('15');
    expect(() => synth({ REVOCATION_DENYLIST_PARAMETER: 'not a name!' })).toThrow(ConfigurationError);
    expect(() => synth({ REVOCATION_DENYLIST_PARAMETER: PARAMETER, REVOCATION_DENYLIST_MAX_AGE_SECONDS: '0' })).toThrow(/REVOCATION_DENYLIST_MAX_AGE_SECONDS/);
  });
});

test('without it: no variable, no grant', () => {
  const resources = resourcesOf(synth({}).stack);
  for (const [, fn] of functions(resources)) expect(fn.Properties.Environment?.Variables?.REVOCATION_DENYLIST_PARAMETER).toBeUndefined();
  expect(readersOf(resources, PARAMETER)).toEqual([]);
});
