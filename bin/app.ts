/**
 * The CDK app: read and validate the deployment settings, create the stack,
 * and check it against cdk-nag's AwsSolutions rules on every synth.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { environmentWithDotEnv, parseDeploySettings, refusePlaceholders } from '../lib/config.js';
import { WebSearchMcpStack } from '../lib/web-search-mcp-stack.js';
import { ConfigurationError } from '../lambda/shared/settings.js';

const app = new App();

try {
  const settings = parseDeploySettings((key) => app.node.tryGetContext(key), environmentWithDotEnv());
  refusePlaceholders(settings);
  // The stack checks what only it can (the certificate's region against the stack's).
  new WebSearchMcpStack(app, 'WebSearchMcp', {
    settings,
    description: 'web-search-mcp: a remote MCP server for web search, protected by OAuth 2.1 (Scalekit)',
  });
} catch (error) {
  if (!(error instanceof ConfigurationError)) throw error;
  process.stderr.write(
    `${error.message}\n\nSet these as environment variables (or in .env), or pass them as context: npx cdk synth -c NAME=value. See README.md, "Configuration".\n`,
  );
  process.exit(1);
}

Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
