/**
 * PROVISIONED_CONCURRENCY: off by default (no alias, no version, API Gateway
 * invokes the functions); set, the MCP function and the authorizer each get a
 * `live` alias with that many instances kept initialized, and API Gateway
 * invokes the aliases, and may invoke nothing else of theirs. The setting is
 * validated with the others.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { ConfigurationError } from '../../lambda/shared/settings.js';
import { MCP_PATH } from '../../lambda/shared/routes.js';
import type { WebSearchMcpStack } from '../../lib/web-search-mcp-stack.js';
import { settingsFrom, synthStack } from './variants.js';

type Resources = Record<string, { Type: string; Properties: Record<string, any>; DependsOn?: unknown }>;
const resourcesOf = (stack: WebSearchMcpStack) => Template.fromStack(stack).toJSON().Resources as Resources;
const ofType = (resources: Resources, type: string) => Object.entries(resources).filter(([, resource]) => resource.Type === type);
const logicalIdOf = (stack: WebSearchMcpStack, construct: { node: { defaultChild?: unknown } } | undefined) =>
  stack.getLogicalId(construct!.node.defaultChild as Parameters<WebSearchMcpStack['getLogicalId']>[0]);
/** Every resource a value refers to (`Ref`, `Fn::GetAtt`), each once; pseudo parameters left out. */
const referencesIn = (value: unknown): string[] => [
  ...new Set([...JSON.stringify(value).matchAll(/"(?:Ref|Fn::GetAtt)":\[?"([A-Za-z0-9]+)"/g)].map((match) => match[1]!)),
];

/** The integration of POST /web-search/mcp. */
function mcpIntegration(resources: Resources) {
  const pathOf = (id: string): string => {
    const resource = resources[id]!.Properties;
    const parent = resource.ParentId?.Ref;
    return `${parent && resources[parent]?.Type === 'AWS::ApiGateway::Resource' ? pathOf(parent) : ''}/${resource.PathPart}`;
  };
  const method = ofType(resources, 'AWS::ApiGateway::Method').find(
    ([, each]) => each.Properties.HttpMethod === 'POST' && each.Properties.ResourceId?.Ref && pathOf(each.Properties.ResourceId.Ref) === MCP_PATH,
  );
  return method![1].Properties.Integration;
}

describe('PROVISIONED_CONCURRENCY unset (the default)', () => {
  const { stack } = synthStack();
  const resources = resourcesOf(stack);

  test('no alias, no published version: API Gateway invokes the functions themselves', () => {
    expect(settingsFrom().provisionedConcurrency).toBe(0);
    expect(ofType(resources, 'AWS::Lambda::Alias')).toHaveLength(0);
    expect(ofType(resources, 'AWS::Lambda::Version')).toHaveLength(0);
    expect(referencesIn(mcpIntegration(resources).Uri)).toContain(logicalIdOf(stack, stack.functions.mcp));
    const [, authorizer] = ofType(resources, 'AWS::ApiGateway::Authorizer')[0]!;
    expect(referencesIn(authorizer.Properties.AuthorizerUri)).toContain(logicalIdOf(stack, stack.functions.authorizer));
  });
});

describe('PROVISIONED_CONCURRENCY=3', () => {
  const { stack } = synthStack({ PROVISIONED_CONCURRENCY: '3' });
  const resources = resourcesOf(stack);
  const aliases = ofType(resources, 'AWS::Lambda::Alias');
  const aliasOf = (name: 'mcp' | 'authorizer') => {
    const functionId = logicalIdOf(stack, stack.functions[name]);
    const found = aliases.find(([, alias]) => referencesIn(alias.Properties.FunctionName).includes(functionId));
    if (!found) throw new Error(`no alias of ${name}`);
    return found;
  };

  test('the MCP function and the authorizer each get a live alias of their current version, 3 instances kept initialized', () => {
    expect(aliases).toHaveLength(2);
    for (const name of ['mcp', 'authorizer'] as const) {
      const [, alias] = aliasOf(name);
      expect(alias.Properties.Name).toBe('live');
      expect(alias.Properties.ProvisionedConcurrencyConfig).toEqual({ ProvisionedConcurrentExecutions: 3 });
      const [versionId] = referencesIn(alias.Properties.FunctionVersion);
      expect(resources[versionId!]!.Type).toBe('AWS::Lambda::Version');
      expect(referencesIn(resources[versionId!]!.Properties.FunctionName)).toEqual([logicalIdOf(stack, stack.functions[name])]);
    }
  });

  test('API Gateway invokes the aliases: the MCP integration and the authorizer name them', () => {
    const [mcpAliasId] = aliasOf('mcp');
    const [authorizerAliasId] = aliasOf('authorizer');
    expect(referencesIn(mcpIntegration(resources).Uri)).toEqual([mcpAliasId]);
    const [, authorizer] = ofType(resources, 'AWS::ApiGateway::Authorizer')[0]!;
    expect(referencesIn(authorizer.Properties.AuthorizerUri)).toEqual([authorizerAliasId]);
  });

  test('API Gateway may invoke the aliases, and not the MCP function or the authorizer unqualified', () => {
    const permitted = ofType(resources, 'AWS::Lambda::Permission').map(([, permission]) => referencesIn(permission.Properties.FunctionName)[0]);
    const [mcpAliasId] = aliasOf('mcp');
    const [authorizerAliasId] = aliasOf('authorizer');
    expect(permitted).toContain(mcpAliasId);
    expect(permitted).toContain(authorizerAliasId);
    expect(permitted).not.toContain(logicalIdOf(stack, stack.functions.mcp));
    expect(permitted).not.toContain(logicalIdOf(stack, stack.functions.authorizer));
    // The other functions are invoked as before.
    expect(permitted).toContain(logicalIdOf(stack, stack.functions.metadata));
    expect(permitted).toContain(logicalIdOf(stack, stack.functions.register));
  });
});

test('a bad PROVISIONED_CONCURRENCY is refused at synth, saying what is expected', () => {
  for (const value of ['-1', '1.5', 'two', '1001']) {
    let error: unknown;
    try {
      settingsFrom({ PROVISIONED_CONCURRENCY: value });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).message).toContain('PROVISIONED_CONCURRENCY');
    expect((error as ConfigurationError).message).toContain('from 0 (off) to 1000');
  }
});
