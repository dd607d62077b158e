/**
 * The whole deployment: a regional REST API built from the route table, a
 * Lambda REQUEST authorizer in front of the MCP endpoint, the gateway responses
 * from their table, and the four functions from theirs.
 */
import {
  Arn,
  ArnFormat,
  AssetHashType,
  Aws,
  CfnOutput,
  CfnResource,
  CfnRule,
  DockerImage,
  Duration,
  Fn,
  RemovalPolicy,
  Stack,
  Token,
  Tokenization,
  Validations,
  type ILocalBundling,
  type StackProps,
} from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as route53Targets from 'aws-cdk-lib/aws-route53-targets';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import type { Construct } from 'constructs';
import { fileURLToPath } from 'node:url';
import { ALLOWED_REQUEST_HEADERS, allowedOriginPattern, EXPOSED_HEADERS, PREFLIGHT_MAX_AGE_SECONDS } from '../lambda/shared/cors.js';
import { protectedResourceMetadata, protectedResourceSettings } from '../lambda/shared/protected-resource-metadata.js';
import { ConfigurationError } from '../lambda/shared/settings.js';
import { bundleFunctionSync, POWERTOOLS_VERSION } from './bundling.js';
import type { DeploySettings } from './config.js';
import { environmentSize, environmentSizeProblem, type LongestValue } from './environment-size.js';
import { functionEnvironment, functionSpecs, type FunctionEnvironmentInput } from './functions.js';
import { Firewall } from './firewall.js';
import { gatewayResponseCors, gatewayResponses } from '../lambda/shared/gateway-responses.js';
import { Monitoring } from './monitoring.js';
import { UsageTable } from './usage-table.js';
import { mockAnswer, vtlVerbatim, type MockAnswer, type MockSettings } from './mock-integrations.js';
import { methodsAt, publicUrls, routePaths, routes, type FunctionName } from '../lambda/shared/routes.js';

export const STAGE_NAME = 'prod';

/** Where the functions' sources are: the asset's source (its hash is the bundle's, not this folder's). */
const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * CDK's local bundling of one function (see lib/bundling.ts). Its fields name the function,
 * so that CDK's asset cache, keyed on the bundling options, tells the functions apart.
 */
class FunctionBundling implements ILocalBundling {
  constructor(
    readonly functionName: FunctionName,
    readonly entry: string,
  ) {}

  tryBundle(outputDir: string): boolean {
    bundleFunctionSync(this.functionName, this.entry, outputDir);
    return true;
  }
}

export interface WebSearchMcpStackProps extends StackProps {
  readonly settings: DeploySettings;
}

const quoted = (value: string) => `'${value}'`;

/** The CDK token markers (`${Token[…]}`) in a string, each once. */
function tokenMarkersIn(text: string): string[] {
  const markers = Tokenization.reverseString(text)
    .tokens.map((token) => Token.asString(token))
    .filter((marker) => text.includes(marker));
  return [...new Set(markers)];
}

export class WebSearchMcpStack extends Stack {
  readonly api: apigateway.RestApi;
  readonly functions: Readonly<Record<FunctionName, lambda.Function>>;
  /**
   * What API Gateway invokes for each function: the function itself, or, with
   * PROVISIONED_CONCURRENCY, the MCP function's and the authorizer's `live`
   * alias, whose instances Lambda keeps initialized.
   */
  readonly invoked: Readonly<Record<FunctionName, lambda.IFunction>>;
  readonly monitoring: Monitoring;
  private readonly settings: DeploySettings;
  private powertoolsLayer?: lambda.ILayerVersion;

  constructor(scope: Construct, id: string, props: WebSearchMcpStackProps) {
    super(scope, id, props);
    const { settings } = props;
    this.settings = settings;

    const accessLogs = new logs.LogGroup(this, 'ApiAccessLogs', {
      retention: settings.logRetentionDays as logs.RetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    // What every method of the stage logs and measures. A method that overrides anything (the
    // register route's throttling) repeats these: CloudFormation gives a method setting's absent
    // fields their defaults (logging off, metrics off), not the stage's.
    const methodLogging = {
      // ERROR only: INFO-level execution logs and data tracing would record request headers, tokens included.
      loggingLevel: apigateway.MethodLoggingLevel.ERROR,
      dataTraceEnabled: false,
      metricsEnabled: true,
    } as const;

    this.api = new apigateway.RestApi(this, 'Api', {
      // The API's name is the ApiName dimension of its CloudWatch metrics (and so of the alarms):
      // the stack's name keeps two stacks in one region from sharing them.
      restApiName: this.stackName,
      description: 'Remote MCP server for web search, protected by OAuth 2.1 (Scalekit).',
      // Dual-stack, so that the custom domain's AAAA record leads somewhere (IPv6 clients too).
      endpointConfiguration: { types: [apigateway.EndpointType.REGIONAL], ipAddressType: apigateway.IpAddressType.DUAL_STACK },
      // Behind a custom domain, one URL for everyone: the execute-api URL would be another
      // origin, which clients refuse for a resource identifier on the domain.
      disableExecuteApiEndpoint: Boolean(settings.customDomainName),
      cloudWatchRole: true,
      // The role is set account-wide (AWS::ApiGateway::Account) and other APIs in the region may
      // rely on it: destroying this stack must not leave the account pointing at a deleted role.
      cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN,
      deployOptions: {
        stageName: STAGE_NAME,
        throttlingRateLimit: settings.throttleRateLimit,
        throttlingBurstLimit: settings.throttleBurstLimit,
        ...methodLogging,
        tracingEnabled: settings.tracingEnabled,
        methodOptions: Object.fromEntries(
          routes
            .filter((route) => route.throttle)
            .map((route) => [
              `${route.path}/${route.method}`,
              { ...methodLogging, throttlingRateLimit: route.throttle!.rateLimit, throttlingBurstLimit: route.throttle!.burstLimit },
            ]),
        ),
        accessLogDestination: new apigateway.LogGroupLogDestination(accessLogs),
        accessLogFormat: apigateway.AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            ip: '$context.identity.sourceIp',
            method: '$context.httpMethod',
            path: '$context.resourcePath',
            status: '$context.status',
            responseLatency: '$context.responseLatency',
            integrationLatency: '$context.integrationLatency',
            authorizerLatency: '$context.authorizer.latency',
            authorizerStatus: '$context.authorizer.status',
            principal: '$context.authorizer.principalId',
            error: '$context.error.message',
            errorType: '$context.error.responseType',
          }),
        ),
      },
    });

    // The execution log group API Gateway would otherwise create itself on its first write, with
    // no retention and outliving the stack. Created here under the name API Gateway writes to,
    // before the stage exists, so that nothing writes there first.
    const executionLogs = new logs.LogGroup(this, 'ApiExecutionLogs', {
      logGroupName: `API-Gateway-Execution-Logs_${this.api.restApiId}/${STAGE_NAME}`,
      retention: settings.logRetentionDays as logs.RetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.api.deploymentStage.node.addDependency(executionLogs);

    // The public base URL: the custom domain, mapped at its root, or the execute-api URL with
    // its stage, assembled from the API id rather than `api.url` (functions read it, and
    // `api.url` depends on the deployment, which depends on the functions).
    const apiBaseUrl = settings.customDomainName
      ? this.addCustomDomain(settings.customDomainName, settings.certificateArn!, settings.hostedZoneId)
      : `https://${this.api.restApiId}.execute-api.${Aws.REGION}.${Aws.URL_SUFFIX}/${STAGE_NAME}`;
    const urls = publicUrls(apiBaseUrl);
    const resourceIdentifier = settings.resourceIdentifier ?? urls.mcpUrl;

    let environmentInput: FunctionEnvironmentInput = {
      environmentUrl: settings.environmentUrl,
      resourceId: settings.resourceId,
      resourceIdentifier,
      requiredScopes: settings.requiredScopes,
      toolScopes: settings.toolScopes,
      toolOutputBudgetChars: settings.toolOutputBudgetChars,
      allowedOrigins: settings.allowedOrigins,
      apiBaseUrl,
      tavilyApiBaseUrl: settings.tavilyApiBaseUrl,
      tavilyApiKeyParameter: settings.tavilyApiKeyParameter,
      ...(settings.revocationDenylistParameter
        ? { revocationDenylist: { parameterName: settings.revocationDenylistParameter, maxAgeSeconds: settings.revocationDenylistMaxAgeSeconds } }
        : {}),
      logLevel: settings.logLevel,
      tracingEnabled: settings.tracingEnabled,
      research: { taskTtlSeconds: settings.taskTtlSeconds, researchWaitSeconds: settings.researchWaitSeconds },
    };
    // Quotas, the result cache and research tasks: the table is always there, as research needs it.
    const usage = new UsageTable(this, 'Usage', { removalPolicy: settings.usageTableRemovalPolicy });
    environmentInput = { ...environmentInput, usage: { ...settings, usageTableName: usage.table.tableName } };
    this.functions = {
      authorizer: this.createFunction('authorizer', environmentInput),
      metadata: this.createFunction('metadata', environmentInput),
      register: this.createFunction('register', environmentInput),
      mcp: this.createFunction('mcp', environmentInput),
    };
    this.invoked = {
      ...this.functions,
      authorizer: this.withProvisionedConcurrency(this.functions.authorizer, settings.provisionedConcurrency),
      mcp: this.withProvisionedConcurrency(this.functions.mcp, settings.provisionedConcurrency),
    };
    this.grantTavilyKeyRead(this.functions.mcp, settings.tavilyApiKeyParameter);
    if (settings.revocationDenylistParameter) this.grantDenylistRead(this.functions.authorizer, settings.revocationDenylistParameter);

    const authorizer = new apigateway.RequestAuthorizer(this, 'TokenAuthorizer', {
      handler: this.invoked.authorizer,
      identitySources: [apigateway.IdentitySource.header('Authorization')],
      resultsCacheTtl: Duration.seconds(settings.authorizerCacheTtlSeconds),
    });

    // The mock routes' documents, from the deployment's settings, as the authorizer's challenge names them.
    const mockSettings: MockSettings = { protectedResource: protectedResourceSettings(environmentInput) };
    for (const route of routes) {
      const authorization = route.authorized
        ? { authorizer, authorizationType: apigateway.AuthorizationType.CUSTOM }
        : { authorizationType: apigateway.AuthorizationType.NONE };
      const resource = this.api.root.resourceForPath(route.path);
      if (route.integration === 'mock') {
        this.addMockMethod(resource, route.method, mockAnswer(route.document, mockSettings), settings.allowedOrigins, authorization);
      } else {
        resource.addMethod(route.method, new apigateway.LambdaIntegration(this.invoked[route.function], { proxy: true }), authorization);
      }
    }
    for (const path of routePaths) this.addPreflight(this.api.root.resourceForPath(path), methodsAt(path), settings.allowedOrigins);

    this.addGatewayResponses(urls.protectedResourceMetadataUrl, settings);

    this.monitoring = new Monitoring(this, 'Monitoring', { api: this.api, functions: this.functions, alarmEmail: settings.alarmEmail });
    usage.grantUse(this.functions.mcp);
    usage.monitor({ fn: this.functions.mcp, logGroup: this.functions.mcp.logGroup, creditsPerDayTotal: settings.quotaCreditsPerDayTotal });
    this.monitoring.notifyOn(usage.alarms);
    if (settings.wafEnabled) {
      new Firewall(this, 'Firewall', { stageArn: this.api.deploymentStage.stageArn, rateLimit: settings.wafRateLimit });
    }

    // With a custom domain the execute-api URL is switched off: no output may offer it.
    if (settings.customDomainName) this.api.node.tryRemoveChild('Endpoint');
    new CfnOutput(this, 'McpUrl', { value: urls.mcpUrl, description: 'The MCP endpoint: give this URL to MCP clients.' });
    new CfnOutput(this, 'ProtectedResourceMetadataUrl', {
      value: urls.protectedResourceMetadataUrl,
      description: 'RFC 9728 metadata URL, named in the 401 challenge.',
    });
    new CfnOutput(this, 'UsageTableName', {
      value: usage.table.tableName,
      description: "The quotas', result cache's and research tasks' table: npm run usage -- --table <this>.",
    });
    new CfnOutput(this, 'ResourceIdentifier', {
      value: resourceIdentifier,
      description: "The token audience: register exactly this as the MCP server's resource identifier in Scalekit.",
    });
    new CfnOutput(this, 'ProtectedResourceMetadata', {
      value: Fn.toJsonString(
        protectedResourceMetadata(mockSettings.protectedResource),
      ),
      description: 'The protected resource metadata this server serves (compare with what Scalekit shows).',
    });

    this.acknowledgeNagFindings();
  }

  private createFunction(name: FunctionName, input: FunctionEnvironmentInput): lambda.Function {
    const spec = functionSpecs[name];
    const id = `${name[0]!.toUpperCase()}${name.slice(1)}Function`;
    const logGroup = new logs.LogGroup(this, `${id}Logs`, {
      retention: this.settings.logRetentionDays as logs.RetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // A role of its own per function, allowed to write to its own log group and nothing else.
    const role = new iam.Role(this, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of the ${name} function`,
    });
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [logGroup.logGroupArn],
      }),
    );
    if (this.settings.tracingEnabled) {
      Validations.of(role).acknowledge({
        id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
        reason:
          'With tracing on, Lambda needs xray:PutTraceSegments and xray:PutTelemetryRecords, which X-Ray only grants on "*" (these actions have no resource-level permissions).',
      });
    }
    const fn = new lambda.Function(this, id, {
      code: lambda.Code.fromAsset(PROJECT_ROOT, {
        assetHashType: AssetHashType.OUTPUT,
        bundling: {
          local: new FunctionBundling(name, spec.entry),
          // Never used: local bundling either builds the bundle or stops the synth (lib/bundling.ts).
          image: DockerImage.fromRegistry('unused'),
        },
      }),
      handler: 'index.handler',
      description: spec.description,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: spec.memoryMb,
      timeout: Duration.seconds(spec.timeoutSeconds),
      environment: functionEnvironment(name, input),
      role,
      logGroup,
      ...(this.settings.tracingEnabled ? { tracing: lambda.Tracing.ACTIVE, layers: [this.powertools()] } : {}),
    });
    // At synth, once every variable is in: Lambda refuses an environment over 4 KB only at deploy time.
    fn.node.addValidation({
      validate: () => {
        const variables = (this.resolve((fn.node.defaultChild as lambda.CfnFunction).environment) as { variables?: Record<string, unknown> } | undefined)?.variables ?? {};
        const problem = environmentSizeProblem(name, environmentSize(variables, this.longestDeployTimeValue));
        return problem ? [problem] : [];
      },
    });
    return fn;
  }

  /**
   * The function, or with `instances` > 0 an alias of its current version with that many
   * instances kept initialized (provisioned concurrency): a client then meets no cold start
   * until more requests run at once than there are such instances. Each deploy publishes a
   * new version when the function changed, and the alias moves to it.
   */
  private withProvisionedConcurrency(fn: lambda.Function, instances: number): lambda.IFunction {
    if (instances === 0) return fn;
    return new lambda.Alias(this, `${fn.node.id}Live`, {
      aliasName: 'live',
      version: fn.currentVersion,
      provisionedConcurrentExecutions: instances,
      description: 'What API Gateway invokes: instances kept initialized (PROVISIONED_CONCURRENCY).',
    });
  }

  /**
   * The longest a deploy-time value in an environment can be, by what it refers to. Anything
   * else has no known bound, and the synth says so rather than guessing.
   */
  private readonly longestDeployTimeValue: LongestValue = (intrinsic) => {
    const ref = intrinsic.Ref;
    if (typeof ref !== 'string') return undefined;
    const pseudo: Record<string, number> = {
      // Region names and URL suffixes are under 20 characters today.
      'AWS::Region': 32,
      'AWS::URLSuffix': 32,
      'AWS::AccountId': 12,
      'AWS::Partition': 16,
    };
    if (ref in pseudo) return pseudo[ref];
    const resource = this.node.findAll().find((each): each is CfnResource => CfnResource.isCfnResource(each) && this.resolve(each.logicalId) === ref);
    // A REST API's id is 10 characters; a table's name at most 255.
    const byType: Record<string, number> = { 'AWS::ApiGateway::RestApi': 16, 'AWS::DynamoDB::Table': 255 };
    return resource ? byType[resource.cfnResourceType] : undefined;
  };

  /**
   * AWS's Powertools layer, of the same version as the bundled Powertools, which
   * provides the tracer the bundles leave out. Its ARN per version is a public
   * SSM parameter, resolved at deploy time.
   */
  private powertools(): lambda.ILayerVersion {
    this.powertoolsLayer ??= lambda.LayerVersion.fromLayerVersionArn(
      this,
      'PowertoolsLayer',
      ssm.StringParameter.valueForStringParameter(this, `/aws/service/powertools/typescript/generic/all/${POWERTOOLS_VERSION}`),
    );
    return this.powertoolsLayer;
  }

  /**
   * The API at the root of a custom domain: the resource identifier, metadata URLs
   * and challenge use it, and clients that probe the origin's root well-known URIs
   * (as older ones do) find them. With a hosted zone, the alias records too.
   */
  private addCustomDomain(domainName: string, certificateArn: string, hostedZoneId: string | undefined): string {
    this.requireCertificateInStackRegion(certificateArn);
    const domain = new apigateway.DomainName(this, 'CustomDomain', {
      domainName,
      certificate: acm.Certificate.fromCertificateArn(this, 'CustomDomainCertificate', certificateArn),
      endpointType: apigateway.EndpointType.REGIONAL,
      securityPolicy: apigateway.SecurityPolicy.TLS_1_2,
      mapping: this.api,
    });
    // Dual-stack, as the API is: the AAAA record below must lead to an endpoint that answers IPv6.
    // (The DomainName construct has no property for it.)
    (domain.node.defaultChild as apigateway.CfnDomainName).addPropertyOverride('EndpointConfiguration.IpAddressType', 'dualstack');
    if (hostedZoneId) {
      const zone = route53.HostedZone.fromHostedZoneAttributes(this, 'HostedZone', {
        hostedZoneId,
        // Only used to name records; the records below give the full name.
        zoneName: domainName,
      });
      const target = route53.RecordTarget.fromAlias(new route53Targets.ApiGatewayDomain(domain));
      new route53.ARecord(this, 'CustomDomainAliasA', { zone, recordName: `${domainName}.`, target });
      new route53.AaaaRecord(this, 'CustomDomainAliasAAAA', { zone, recordName: `${domainName}.`, target });
    } else {
      new CfnOutput(this, 'CustomDomainTarget', {
        value: domain.domainNameAliasDomainName,
        description: `Point ${domainName} at this name (CNAME, or an alias record in Route 53).`,
      });
    }
    return `https://${domainName}`;
  }

  /**
   * A regional endpoint serves a certificate from its own region only. With the stack's region
   * known at synth, a certificate elsewhere stops the synth; with an environment-agnostic stack
   * (the default: the region is the one `cdk deploy` targets), a CloudFormation rule stops the
   * deploy before anything is created.
   */
  private requireCertificateInStackRegion(certificateArn: string) {
    const certificateRegion = Arn.split(certificateArn, ArnFormat.SLASH_RESOURCE_NAME).region;
    const problem = (stackRegion: string) =>
      `CUSTOM_DOMAIN_CERTIFICATE_ARN: the certificate is in ${certificateRegion}, but the stack deploys to ${stackRegion}; a regional custom domain needs an ACM certificate in its own region (request or import one there)`;
    if (!Token.isUnresolved(this.region)) {
      if (certificateRegion !== this.region) throw new ConfigurationError([problem(this.region)], 'deployment settings');
      return;
    }
    new CfnRule(this, 'CertificateInStackRegion', {
      assertions: [{ assert: Fn.conditionEquals(certificateRegion ?? '', Aws.REGION), assertDescription: problem('this region') }],
    });
  }

  /**
   * The authorizer alone may read the revocation denylist, only that parameter. The operator
   * creates it (a String or StringList: no decryption, so no KMS grant); the stack never writes it,
   * so a redeploy cannot undo a block.
   */
  private grantDenylistRead(fn: lambda.Function, parameterName: string) {
    const parameterArn = Stack.of(this).formatArn({ service: 'ssm', resource: 'parameter', resourceName: parameterName.replace(/^\//, '') });
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['ssm:GetParameter'], resources: [parameterArn] }));
  }

  /** The MCP function alone may read the Tavily key, and decrypt it only through SSM, only for that parameter. */
  private grantTavilyKeyRead(fn: lambda.Function, parameterName: string) {
    const parameterArn = Stack.of(this).formatArn({
      service: 'ssm',
      resource: 'parameter',
      resourceName: parameterName.replace(/^\//, ''),
    });
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['ssm:GetParameter'], resources: [parameterArn] }));
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt'],
        resources: [Stack.of(this).formatArn({ service: 'kms', resource: 'key', resourceName: '*' })],
        conditions: {
          StringEquals: {
            'kms:ViaService': `ssm.${Aws.REGION}.amazonaws.com`,
            'kms:EncryptionContext:PARAMETER_ARN': parameterArn,
          },
        },
      }),
    );
  }

  /**
   * CORS preflight without a function: a mock integration answers 204, and grants
   * the origin only when it matches the allowed-origin pattern (the same one the
   * functions and the local gateway use).
   */
  private addPreflight(resource: apigateway.IResource, methods: readonly string[], allowedOrigins: readonly string[]) {
    const pattern = allowedOriginPattern(allowedOrigins);
    const grant = [
      `#set($context.responseOverride.header.Access-Control-Allow-Methods = '${[...methods, 'OPTIONS'].join(', ')}')`,
      `#set($context.responseOverride.header.Access-Control-Allow-Headers = '${ALLOWED_REQUEST_HEADERS.join(', ')}')`,
      `#set($context.responseOverride.header.Access-Control-Max-Age = '${PREFLIGHT_MAX_AGE_SECONDS}')`,
    ];
    let template = '';
    if (allowedOrigins.includes('*')) {
      template = ["#set($context.responseOverride.header.Access-Control-Allow-Origin = '*')", ...grant].join('\n');
    } else if (pattern) {
      template = [
        "#set($origin = $input.params().header.get('Origin'))",
        "#if(!$origin || $origin == '')#set($origin = $input.params().header.get('origin'))#end",
        `#if($origin && $origin.length() <= 2048 && $origin.matches('${pattern}'))`,
        '#set($context.responseOverride.header.Access-Control-Allow-Origin = $origin)',
        ...grant,
        '#end',
      ].join('\n');
    }
    const headers = ['Vary', 'Access-Control-Allow-Origin', 'Access-Control-Allow-Methods', 'Access-Control-Allow-Headers', 'Access-Control-Max-Age'];
    resource.addMethod(
      'OPTIONS',
      new apigateway.MockIntegration({
        requestTemplates: { 'application/json': '{"statusCode": 204}' },
        passthroughBehavior: apigateway.PassthroughBehavior.WHEN_NO_MATCH,
        integrationResponses: [
          {
            statusCode: '204',
            responseParameters: { 'method.response.header.Vary': quoted('Origin') },
            responseTemplates: { 'application/json': template },
          },
        ],
      }),
      {
        authorizationType: apigateway.AuthorizationType.NONE,
        methodResponses: [
          {
            statusCode: '204',
            responseParameters: Object.fromEntries(headers.map((header) => [`method.response.header.${header}`, true])),
          },
        ],
      },
    );
  }

  /**
   * A route API Gateway answers itself: a MOCK integration whose 200 response
   * template is the answer's body, written so VTL outputs it byte for byte
   * (a resource identifier that is still a token stays a token, and
   * CloudFormation puts the execute-api URL in its place). The CORS headers are
   * the functions' for a GET (lambda/shared/cors.ts): Vary: Origin always, and
   * for an allowed origin Access-Control-Allow-Origin (the origin, or `*`) and
   * Access-Control-Expose-Headers, granted by the same test the preflight makes.
   */
  private addMockMethod(
    resource: apigateway.IResource,
    method: string,
    answer: MockAnswer,
    allowedOrigins: readonly string[],
    authorization: apigateway.MethodOptions,
  ) {
    const pattern = allowedOriginPattern(allowedOrigins);
    let grant = '';
    if (pattern) {
      const allowOrigin = allowedOrigins.includes('*') ? "'*'" : '$origin';
      grant = [
        "#set($origin = $input.params().header.get('Origin'))",
        "#if(!$origin || $origin == '')#set($origin = $input.params().header.get('origin'))#end",
        `#if($origin && $origin.length() <= 2048 && $origin.matches('${pattern}'))`,
        `#set($context.responseOverride.header.Access-Control-Allow-Origin = ${allowOrigin})`,
        `#set($context.responseOverride.header.Access-Control-Expose-Headers = '${EXPOSED_HEADERS.join(', ')}')`,
        '#end',
      ].join(''); // one line: the body that follows must not gain a newline
    }
    const opaque = Token.isUnresolved(answer.body) ? tokenMarkersIn(answer.body) : [];
    const statusCode = String(answer.statusCode);
    const staticHeaders: Record<string, string> = { ...answer.headers, Vary: 'Origin' };
    const headers = [...Object.keys(staticHeaders), 'Access-Control-Allow-Origin', 'Access-Control-Expose-Headers'];
    resource.addMethod(
      method,
      new apigateway.MockIntegration({
        requestTemplates: { 'application/json': `{"statusCode": ${statusCode}}` },
        passthroughBehavior: apigateway.PassthroughBehavior.WHEN_NO_MATCH,
        integrationResponses: [
          {
            statusCode,
            responseParameters: Object.fromEntries(
              Object.entries(staticHeaders).map(([name, value]) => [`method.response.header.${name}`, quoted(value)]),
            ),
            responseTemplates: { 'application/json': grant + vtlVerbatim(answer.body, opaque) },
          },
        ],
      }),
      {
        ...authorization,
        methodResponses: [
          {
            statusCode,
            responseParameters: Object.fromEntries(headers.map((header) => [`method.response.header.${header}`, true])),
          },
        ],
      },
    );
  }

  private addGatewayResponses(protectedResourceMetadataUrl: string, settings: DeploySettings) {
    const cors = gatewayResponseCors(settings.allowedOrigins);
    for (const spec of gatewayResponses({ protectedResourceMetadataUrl, requiredScopes: settings.requiredScopes })) {
      const responseHeaders: Record<string, string> = {};
      for (const [name, value] of Object.entries(spec.headers)) responseHeaders[name] = quoted(value);
      if (cors) {
        for (const [name, value] of Object.entries(cors.headers)) responseHeaders[name] = quoted(value);
        responseHeaders['Access-Control-Allow-Origin'] = cors.allowOrigin === 'any' ? quoted('*') : 'method.request.header.Origin';
      }
      const description =
        spec.body.error_description === undefined ? '$context.error.messageString' : JSON.stringify(spec.body.error_description);
      this.api.addGatewayResponse(`GatewayResponse${spec.type}`, {
        type: apigateway.ResponseType.of(spec.type),
        ...(spec.statusCode === undefined ? {} : { statusCode: String(spec.statusCode) }),
        responseHeaders,
        templates: {
          'application/json': `{"error":${JSON.stringify(spec.body.error)},"error_description":${description}}`,
        },
      });
    }
  }

  /**
   * cdk-nag AwsSolutions findings this design accepts, each with its reason.
   * (cdk-nag v3 uses CDK's own acknowledgements: one per finding.)
   */
  private acknowledgeNagFindings() {
    const ack = (rule: string) => `AwsSolutions::AwsSolutions-${rule}`;
    Validations.of(this).acknowledge(
      {
        id: ack('APIG2'),
        reason:
          'Every body is validated by the function that reads it, with an error the client can act on: JSON-RPC by the MCP SDK (400/-32700, 415, 406), client metadata by the registration proxy (400 invalid_client_metadata). The API declares no request parameters to validate.',
      },
      {
        id: ack('APIG3'),
        reason:
          "A WAF web ACL is optional and switched by configuration; throttling, the authorizer and the proxies' own limits protect the API without it.",
      },
      {
        id: ack('L1'),
        reason: 'nodejs22.x is the runtime this project targets and tests against (Node 22 LTS); the bundles are built for it.',
      },
      {
        id: ack('APIG4'),
        reason:
          'OAuth discovery (protected resource and authorization server metadata), dynamic client registration and CORS preflight must be reachable without a token (RFC 9728, RFC 8414, RFC 7591); GET/DELETE on the MCP endpoint only answer 405. POST /web-search/mcp, the only route that does work, uses the Lambda authorizer.',
      },
      {
        id: ack('COG4'),
        reason: 'Tokens come from Scalekit (OAuth 2.1), not Cognito; the Lambda REQUEST authorizer verifies them.',
      },
      {
        id: ack('IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]'),
        reason:
          "The API Gateway account role (for execution logs) uses AWS's managed AmazonAPIGatewayPushToCloudWatchLogs policy, which grants exactly what API Gateway needs to write them.",
      },
    );
    Validations.of(this.functions.mcp.role!).acknowledge({
      id: ack('IAM5[Resource::arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:key/*]'),
      reason:
        "The Tavily key's SecureString may be encrypted with any KMS key the operator chooses (aws/ssm by default). The grant is limited to decrypting through SSM (kms:ViaService) that one parameter (kms:EncryptionContext:PARAMETER_ARN).",
    });
  }
}
