/**
 * What every tool test needs: the loopback fake Tavily, a real client pointed
 * at it, a context with a deadline, and short ways to read what was sent.
 */
import { createTavilyClient, type TavilyClient } from '../../../lambda/mcp/tavily.js';
import type { ToolContext } from '../../../lambda/mcp/tools/tool.js';
import { startFakeTavily, type FakeTavily, type RecordedRequest } from '../../fixtures/fake-tavily.js';

export interface ToolHarness {
  readonly fake: FakeTavily;
  readonly tavily: TavilyClient;
  /** A context whose deadline is `remainingMs` from now (far away by default, so no derived timeout depends on the clock). */
  context(remainingMs?: number): ToolContext;
  /** The only request Tavily received since the last reset. */
  onlyRequest(): RecordedRequest;
}

export async function startToolHarness(): Promise<ToolHarness> {
  const fake = await startFakeTavily();
  const tavily = createTavilyClient({ baseUrl: fake.url, apiKey: async () => fake.apiKey });
  return {
    fake,
    tavily,
    context: (remainingMs = 10 * 60_000) => ({ tavily, deadline: Date.now() + remainingMs, signal: new AbortController().signal }),
    onlyRequest() {
      expect(fake.requests).toHaveLength(1);
      return fake.requests[0]!;
    },
  };
}

/** The messages zod gives for arguments, by argument path, as the agent would see them. */
export function issuesOf(result: { success: boolean; error?: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } }) {
  expect(result.success).toBe(false);
  return (result.error?.issues ?? []).map((issue) => `${issue.path.map(String).join('.')}: ${issue.message}`);
}
