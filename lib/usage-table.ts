/**
 * The quotas' and result cache's DynamoDB table (its shape from
 * lambda/mcp/quota/usage-table.ts, which the local stack builds on dynalite),
 * what may use it, and how an operator watches it:
 * - on demand, TTL on `expiresAt`, the sparse `byDay` index `npm run usage` reads;
 * - only the MCP function may touch it, only this table (not its index), and only
 *   with the three actions it uses (GetItem, PutItem, UpdateItem);
 * - the removal policy is the operator's (USAGE_TABLE_REMOVAL_POLICY): its items are
 *   counters and cached results that rebuild themselves, so `destroy` by default;
 * - alarms on store errors, on calls let through with their quotas unchecked (QUOTA_ON_STORE_ERROR=allow),
 *   and on the server's daily credits nearing their cap (the stack has them notify the alarm topic, as the
 *   others do);
 * - Contributor Insights rules over the function's `Usage` log lines: the top callers
 *   by credits and by calls, without a metric per caller.
 */
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { USAGE_TABLE } from '../lambda/mcp/quota/usage-table.js';
import { METRIC_NAMESPACE } from '../lambda/shared/observability.js';

/** The share of QUOTA_CREDITS_PER_DAY_TOTAL at which the "nearing the cap" alarm fires. */
export const TOTAL_CAP_ALARM_SHARE = 0.8;

/** The actions the MCP function uses, and no others. */
export const USAGE_TABLE_ACTIONS = ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'] as const;

export interface UsageTableProps {
  readonly removalPolicy: 'destroy' | 'retain';
}

export interface UsageMonitoringProps {
  readonly fn: lambda.IFunction;
  readonly logGroup: logs.ILogGroup;
  /** 0: no cap, so no alarm on it. */
  readonly creditsPerDayTotal: number;
}

const mcpMetric = (metricName: string, statistic: string) =>
  new cloudwatch.Metric({ namespace: METRIC_NAMESPACE, metricName, dimensionsMap: { service: 'mcp' }, statistic, period: Duration.minutes(5) });

export class UsageTable extends Construct {
  readonly table: dynamodb.Table;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: UsageTableProps) {
    super(scope, id);
    const { partitionKey, ttlAttribute, byDayIndex } = USAGE_TABLE;
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: partitionKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: ttlAttribute,
      removalPolicy: props.removalPolicy === 'retain' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: byDayIndex.name,
      partitionKey: { name: byDayIndex.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: byDayIndex.sortKey, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.INCLUDE,
      nonKeyAttributes: [...byDayIndex.projected],
    });
    Validations.of(this.table).acknowledge({
      id: 'AwsSolutions::AwsSolutions-DDB3',
      reason:
        'Point-in-time recovery would restore nothing of value: the table holds per-minute and per-day counters and cached Tavily results, all expiring within two days and rebuilt by traffic.',
    });
  }

  /** The MCP function, alone, may read, write and count in this table (not its index: only operators read that). */
  grantUse(fn: lambda.IFunction) {
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: [...USAGE_TABLE_ACTIONS], resources: [this.table.tableArn] }));
  }

  monitor(props: UsageMonitoringProps) {
    const storeErrors = new cloudwatch.Alarm(this, 'StoreErrorsAlarm', {
      alarmDescription:
        'The MCP function could not reach the usage table, or the table rejected its request (quotas counted nothing, or refused calls, per QUOTA_ON_STORE_ERROR; a rejected request is always refused; the cache was skipped). See its "Usage store" and "Quota not enforced" log lines.',
      metric: mcpMetric('UsageStoreErrors', 'Sum'),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.alarms.push(storeErrors);
    // Its own alarm: with QUOTA_ON_STORE_ERROR=allow these calls ran with no limit checked, which an
    // operator must hear of even when store errors are otherwise expected (a throttled table).
    this.alarms.push(
      new cloudwatch.Alarm(this, 'QuotaFailOpenAlarm', {
        alarmDescription:
          'Tool calls ran with their quotas unchecked: the usage table could not be reached and QUOTA_ON_STORE_ERROR=allow let them through. See the MCP function\'s "Quota not enforced" log lines; set QUOTA_ON_STORE_ERROR=deny to refuse such calls instead.',
        metric: mcpMetric('QuotaFailOpen', 'Sum'),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
    if (props.creditsPerDayTotal > 0) {
      const threshold = Math.floor(props.creditsPerDayTotal * TOTAL_CAP_ALARM_SHARE);
      this.alarms.push(
        new cloudwatch.Alarm(this, 'TotalCreditsNearingCapAlarm', {
          alarmDescription: `The server has used ${Math.round(TOTAL_CAP_ALARM_SHARE * 100)}% of today's Tavily credit cap (QUOTA_CREDITS_PER_DAY_TOTAL=${props.creditsPerDayTotal}); at the cap every search is refused until 00:00 UTC.`,
          metric: mcpMetric('DailyCreditsUsed', 'Maximum'),
          threshold,
          evaluationPeriods: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      );
    }

    // One rule per ranking; CloudWatch keeps the top contributors, not a metric per caller.
    const rule = (name: string, aggregateOn: 'Sum' | 'Count', valueOf?: string) =>
      new cloudwatch.CfnInsightRule(this, name, {
        ruleName: `${Stack.of(this).stackName}-${name}`,
        ruleState: 'ENABLED',
        ruleBody: Stack.of(this).toJsonString({
          Schema: { Name: 'CloudWatchLogRule', Version: 1 },
          LogGroupNames: [props.logGroup.logGroupName],
          LogFormat: 'JSON',
          Contribution: {
            Keys: ['$.client_id', '$.sub'],
            ...(valueOf ? { ValueOf: valueOf } : {}),
            Filters: [{ Match: '$.message', In: ['Usage'] }],
          },
          AggregateOn: aggregateOn,
        }),
      });
    rule('TopCallersByCredits', 'Sum', '$.credits');
    rule('TopCallersByCalls', 'Count');
  }
}
