/**
 * What an operator watches: alarms on the signals that mean clients are failing
 * (API 5xx rate, the authorizer unable to reach the signing keys, Tavily
 * failing, research failing, throttling), an optional SNS topic that emails
 * them, and one dashboard with the same signals. The custom metrics come from the functions
 * as EMF lines (lambda/shared/observability.ts), in the namespace below.
 */
import { Aws, Duration, Lazy, Stack, Validations } from 'aws-cdk-lib';
import type * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { TOOL_DEFAULT_SCOPES } from '../lambda/mcp/tools/tool-scopes.generated.js';
import { METRIC_NAMESPACE } from '../lambda/shared/observability.js';
import type { FunctionName } from '../lambda/shared/routes.js';

export interface MonitoringProps {
  readonly api: apigateway.RestApi;
  readonly functions: Readonly<Record<FunctionName, lambda.IFunction>>;
  /** Where alarm notifications go; unset: alarms without notifications. */
  readonly alarmEmail?: string;
}

const FIVE_MINUTES = Duration.minutes(5);
/** Research is rarer and slower than a search: its failure rate is judged per hour. */
const ONE_HOUR = Duration.hours(1);
const TOOLS = Object.keys(TOOL_DEFAULT_SCOPES);
const OUTCOMES = ['allow', 'insufficient_scope', 'unauthorized', 'unavailable'] as const;

/** A custom metric the functions publish; `service` is Powertools' default dimension. */
function custom(name: string, service: FunctionName, dimensions: Record<string, string> = {}, statistic = 'Sum', period = FIVE_MINUTES) {
  return new cloudwatch.Metric({
    namespace: METRIC_NAMESPACE,
    metricName: name,
    dimensionsMap: { service, ...dimensions },
    statistic,
    period,
  });
}

export class Monitoring extends Construct {
  readonly alarms: readonly cloudwatch.Alarm[];
  readonly topic?: sns.Topic;
  readonly dashboard: cloudwatch.Dashboard;
  /** The alarms that notify the topic: the only sources its policy lets publish. */
  private readonly notifying: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const { api, functions } = props;

    const apiErrorRate = api.metricServerError({ statistic: 'Average', period: FIVE_MINUTES });
    const keysUnavailable = custom('AuthorizerDecisions', 'authorizer', { Outcome: 'unavailable' });
    // Only functions PutMetricAlarm accepts on time series: no MAX over a constant. A period
    // without tool calls yields 0, and one without errors counts as 0 errors.
    const tavilyErrorRate = new cloudwatch.MathExpression({
      expression: 'IF(calls > 0, 100 * FILL(errors, 0) / calls, 0)',
      usingMetrics: { errors: custom('TavilyErrors', 'mcp'), calls: custom('ToolCalls', 'mcp') },
      label: 'Tavily error rate (%)',
      period: FIVE_MINUTES,
    });
    // Finished researches that ended without a report (Tavily reported a failure, or lost it).
    const researchFailureRate = new cloudwatch.MathExpression({
      expression: 'IF(FILL(completed, 0) + FILL(failed, 0) > 0, 100 * FILL(failed, 0) / (FILL(completed, 0) + FILL(failed, 0)), 0)',
      usingMetrics: {
        completed: custom('ResearchCompleted', 'mcp', {}, 'Sum', ONE_HOUR),
        failed: custom('ResearchFailed', 'mcp', {}, 'Sum', ONE_HOUR),
      },
      label: 'Research failure rate (%)',
      period: ONE_HOUR,
    });
    const throttles = new cloudwatch.MathExpression({
      // One time series: the functions' throttles added up per period.
      expression: `SUM([${Object.keys(functions).map((name) => `t_${name}`).join(', ')}])`,
      usingMetrics: Object.fromEntries(
        Object.entries(functions).map(([name, fn]) => [`t_${name}`, fn.metricThrottles({ period: FIVE_MINUTES, statistic: 'Sum' })]),
      ),
      label: 'Lambda throttles',
      period: FIVE_MINUTES,
    });

    const alarm = (alarmId: string, metric: cloudwatch.IMetric, threshold: number, description: string, datapoints = 1) =>
      new cloudwatch.Alarm(this, alarmId, {
        metric,
        threshold,
        evaluationPeriods: Math.max(datapoints, 1),
        datapointsToAlarm: datapoints,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
    this.alarms = [
      alarm('ApiServerErrorRate', apiErrorRate, 0.05, 'More than 5% of API requests answered 5xx for 10 minutes. See the dashboard and the functions\' logs.', 2),
      alarm(
        'AuthorizerKeysUnavailable',
        keysUnavailable,
        5,
        'The authorizer could not fetch Scalekit\'s signing keys (clients get 503). Check SCALEKIT_ENVIRONMENT_URL and Scalekit\'s status.',
      ),
      alarm(
        'TavilyErrorRate',
        tavilyErrorRate,
        25,
        'More than 25% of tool calls failed at Tavily for 10 minutes (bad key, rate or plan limit, outage). See the mcp function\'s "Tool call" logs for the error kind.',
        2,
      ),
      alarm(
        'ResearchFailureRate',
        researchFailureRate,
        25,
        'More than 25% of the researches that finished in the last hour ended without a report. See the mcp function\'s "Research failed" and "Research status check failed" logs, and Tavily\'s status.',
      ),
      alarm('LambdaThrottles', throttles, 1, 'A function was throttled: raise its reserved concurrency or the account limit, or lower the stage throttling.'),
    ];

    if (props.alarmEmail) {
      this.topic = new sns.Topic(this, 'AlarmTopic', { displayName: 'web-search-mcp alarms', enforceSSL: true });
      this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
      // enforceSSL writes a topic policy, and a topic policy replaces SNS's default one: without
      // this statement nothing may publish, and CloudWatch's alarm history shows "not authorized
      // to perform SNS:Publish". Only this account's alarms that notify the topic may.
      this.topic.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'AllowThisStacksAlarmsToPublish',
          principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
          actions: ['sns:Publish'],
          resources: [this.topic.topicArn],
          conditions: {
            StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
            ArnEquals: { 'aws:SourceArn': Lazy.list({ produce: () => this.notifying.map((alarm) => alarm.alarmArn) }) },
          },
        }),
      );
      Validations.of(this.topic).acknowledge({
        id: 'AwsSolutions::AwsSolutions-SNS2',
        reason:
          'CloudWatch alarms cannot publish to a topic encrypted with the AWS-managed aws/sns key, and the notifications carry only alarm names and states, no customer data.',
      });
    }
    this.notifyOn(this.alarms);

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      // Dashboard names are global to the account: the stack's name (unique in its region) and the region.
      dashboardName: `${Stack.of(this).stackName}-${Aws.REGION}`,
      defaultInterval: Duration.hours(3),
    });
    const width = 12;
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'API requests and errors',
        width,
        left: [api.metricCount({ period: FIVE_MINUTES }), api.metricClientError({ period: FIVE_MINUTES }), api.metricServerError({ period: FIVE_MINUTES })],
      }),
      new cloudwatch.GraphWidget({
        title: 'API latency (ms)',
        width,
        left: [
          api.metricLatency({ statistic: 'p50', period: FIVE_MINUTES }),
          api.metricLatency({ statistic: 'p90', period: FIVE_MINUTES }),
          api.metricIntegrationLatency({ statistic: 'p90', period: FIVE_MINUTES }),
        ],
      }),
      new cloudwatch.GraphWidget({
        title: 'Authorizer decisions',
        width,
        left: OUTCOMES.map((outcome) => custom('AuthorizerDecisions', 'authorizer', { Outcome: outcome }).with({ label: outcome })),
      }),
      new cloudwatch.GraphWidget({
        title: 'Tool calls and errors',
        width,
        left: TOOLS.map((tool) => custom('ToolCalls', 'mcp', { Tool: tool }).with({ label: tool })),
        right: [
          new cloudwatch.MathExpression({
            expression: `SEARCH('{${METRIC_NAMESPACE},service,Tool,ErrorKind} MetricName="ToolErrors"', 'Sum', 300)`,
            label: 'errors',
            period: FIVE_MINUTES,
          }),
        ],
      }),
      new cloudwatch.GraphWidget({
        title: 'Tavily',
        width,
        left: [
          custom('TavilyLatency', 'mcp', {}, 'p50').with({ label: 'latency p50 (ms)' }),
          custom('TavilyLatency', 'mcp', {}, 'p90').with({ label: 'latency p90 (ms)' }),
        ],
        right: [tavilyErrorRate],
      }),
      new cloudwatch.GraphWidget({
        title: 'Research (per hour)',
        width,
        left: ['ResearchStarted', 'ResearchCompleted', 'ResearchFailed', 'ResearchCancelled'].map((name) =>
          custom(name, 'mcp', {}, 'Sum', ONE_HOUR).with({ label: name.replace('Research', '').toLowerCase() }),
        ),
        right: [
          custom('ResearchDuration', 'mcp', {}, 'p50', ONE_HOUR).with({ label: 'time to finish p50 (ms)' }),
          custom('ResearchDuration', 'mcp', {}, 'p90', ONE_HOUR).with({ label: 'time to finish p90 (ms)' }),
        ],
      }),
      new cloudwatch.GraphWidget({
        title: 'Upstream failures (Scalekit) and throttles',
        width,
        left: [custom('UpstreamFailures', 'metadata').with({ label: 'metadata' }), custom('UpstreamFailures', 'register').with({ label: 'register' })],
        right: [throttles],
      }),
      new cloudwatch.GraphWidget({
        title: 'Function duration p90 (ms)',
        width,
        left: Object.entries(functions).map(([name, fn]) => fn.metricDuration({ statistic: 'p90', period: FIVE_MINUTES }).with({ label: name })),
      }),
      new cloudwatch.GraphWidget({
        title: 'Function errors',
        width,
        left: Object.entries(functions).map(([name, fn]) => fn.metricErrors({ period: FIVE_MINUTES }).with({ label: name })),
      }),
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', width: 24, alarms: [...this.alarms] }),
    );
  }

  /** With ALARM_EMAIL, these alarms email their alarm and OK transitions through the topic. */
  notifyOn(alarms: readonly cloudwatch.Alarm[]) {
    if (!this.topic) return;
    for (const each of alarms) {
      each.addAlarmAction(new actions.SnsAction(this.topic));
      each.addOkAction(new actions.SnsAction(this.topic));
      this.notifying.push(each);
    }
  }
}
