/**
 * An optional AWS WAF web ACL on the API stage (WAF_ENABLED=true): AWS's
 * managed common rule set, and a rate-based rule per client IP.
 *
 * Two rules of the common set count instead of block: MCP request bodies are
 * JSON-RPC whose arguments can be longer than the set's 8 KB body limit (a
 * list of 20 URLs to extract), and a web search for "<script> tag" is not an
 * attack on this server, which never renders what it receives.
 */
import { Stack } from 'aws-cdk-lib';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';

export interface FirewallProps {
  /** The stage to protect: arn:aws:apigateway:{region}::/restapis/{id}/stages/{stage}. */
  readonly stageArn: string;
  /** Requests per 5 minutes from one IP before it is blocked for a while. */
  readonly rateLimit: number;
}

const COUNTED_COMMON_RULES = ['SizeRestrictions_BODY', 'CrossSiteScripting_BODY'];

export class Firewall extends Construct {
  readonly webAcl: wafv2.CfnWebACL;

  constructor(scope: Construct, id: string, props: FirewallProps) {
    super(scope, id);
    const visibility = (metricName: string) => ({ cloudWatchMetricsEnabled: true, sampledRequestsEnabled: true, metricName });
    this.webAcl = new wafv2.CfnWebACL(this, 'WebAcl', {
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      // The web ACL's metric name is its metrics' WebACL dimension in the region: the stack's name keeps it apart.
      visibilityConfig: visibility(Stack.of(this).stackName),
      rules: [
        {
          name: 'RatePerClientIp',
          priority: 0,
          action: { block: {} },
          statement: { rateBasedStatement: { limit: props.rateLimit, aggregateKeyType: 'IP' } },
          visibilityConfig: visibility('rate-per-client-ip'),
        },
        {
          name: 'AwsCommonRuleSet',
          priority: 1,
          overrideAction: { none: {} },
          statement: {
            managedRuleGroupStatement: {
              vendorName: 'AWS',
              name: 'AWSManagedRulesCommonRuleSet',
              ruleActionOverrides: COUNTED_COMMON_RULES.map((name) => ({ name, actionToUse: { count: {} } })),
            },
          },
          visibilityConfig: visibility('aws-common-rule-set'),
        },
      ],
    });
    new wafv2.CfnWebACLAssociation(this, 'StageAssociation', {
      resourceArn: props.stageArn,
      webAclArn: this.webAcl.attrArn,
    });
  }
}
