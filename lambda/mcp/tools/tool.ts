/**
 * What a tool is: one module that says everything about it. Its name and what
 * tools/list shows (title, description, JSON Schemas from its zod schemas,
 * annotations), the scopes a token needs for it, what a call costs in Tavily
 * credits, how long its answers may be cached, the request it sends Tavily, how
 * it runs, and the markdown an LLM reads. Tools know nothing of HTTP or MCP
 * sessions: the registry (index.ts) lists them, server.ts runs them, the usage
 * guard (quota/usage-guard.ts) prices and caches them, and `npm run generate`
 * writes their listings and default scopes at build time, all from this shape.
 */
import * as z from 'zod/v4';
import type { ResearchSession } from '../tasks/research-tasks.js';
import type { TavilyClient, TavilyEndpoint } from '../tavily.js';

export interface ToolContext {
  readonly tavily: TavilyClient;
  /** Absolute time (ms since the epoch) by which the tool must have answered. */
  readonly deadline: number;
  readonly signal: AbortSignal;
  /** Called per Tavily HTTP attempt, for logs and metrics. */
  readonly onTavilyAttempt?: (status: number, durationMs: number) => void;
  /**
   * The caller's research, for the tools whose work outlives a request (web_research,
   * web_research_result); undefined where the server has nowhere to keep it (no usage table).
   */
  readonly research?: ResearchSession;
}

/**
 * What one call asks Tavily. The result cache keys on exactly this body, so two
 * calls share an answer only if Tavily was asked the same thing. Whatever a tool
 * normalises (a set sorted, a repeat dropped) it does here, once, for both.
 */
export interface TavilyRequest {
  readonly endpoint: TavilyEndpoint;
  readonly body: Readonly<Record<string, unknown>>;
}

/** MCP's behaviour hints for clients (a client may, say, run a read-only tool without asking). */
export interface ToolAnnotations {
  readonly readOnlyHint?: boolean;
  readonly destructiveHint?: boolean;
  readonly idempotentHint?: boolean;
  readonly openWorldHint?: boolean;
}

/** What a call costs in Tavily credits, by Tavily's documented prices (see credits.ts). */
export interface CreditRule<Args> {
  /** The most a call with these arguments can cost: reserved on the daily budgets before Tavily is called. */
  estimate(args: Args): number;
  /**
   * What an answer costs by the documented prices: charged when Tavily does not report its own
   * `usage.credits`, and the least charged when it reports less.
   */
  priceOf(args: Args, answer: unknown): number;
}

/** The configured cache lifetimes (CACHE_TTL_SECONDS, CACHE_TTL_NEWS_SECONDS). */
export interface CacheLifetimes {
  readonly seconds: number;
  readonly newsSeconds: number;
}

export interface CacheRule<Args> {
  /** How long an answer to these arguments may be served to an identical call, in seconds; 0: never cached. */
  lifetimeSeconds(args: Args, lifetimes: CacheLifetimes): number;
}

export interface ToolDefinition<Name extends string = string, Input extends z.ZodObject = z.ZodObject, Output extends z.ZodObject = z.ZodObject> {
  readonly name: Name;
  readonly title: string;
  readonly description: string;
  readonly input: Input;
  readonly output: Output;
  readonly annotations: ToolAnnotations;
  /** The scopes a token needs to see and call the tool, unless TOOL_SCOPES names others. */
  readonly defaultScopes: readonly string[];
  readonly credits: CreditRule<z.output<Input>>;
  readonly cache: CacheRule<z.output<Input>>;
  /** What to tell the agent when the deadline passes ("narrow the crawl with limit/max_depth"). */
  readonly timeoutAdvice: string;
  /**
   * Set on a tool whose work outlives a request (web_research): for a client that declares
   * the tasks extension, its call answers with a task as soon as the work is recorded; for
   * any other, the tool waits for the work within the deadline (tasks/research-tasks.ts).
   */
  readonly longRunning?: true;
  /**
   * Set on a tool that works with research tasks (its context's `research`): only the SDK path
   * keeps them, so the fast path (lambda/mcp/fast-path.ts) leaves its calls to it.
   */
  readonly usesResearch?: true;
  /** The request a call with these (validated) arguments sends; `run` sends exactly this. */
  tavilyRequest(args: z.output<Input>): TavilyRequest;
  run(args: z.output<Input>, context: ToolContext): Promise<z.output<Output>>;
  render(result: z.output<Output>): string;
}

/** Any tool, as the registry, the server and the usage guard handle them. */
export type AnyTool = ToolDefinition<string, z.ZodObject, z.ZodObject>;

/** Identity, for type inference at each tool's definition (its name stays a literal type: the registry checks it). */
export function defineTool<Name extends string, Input extends z.ZodObject, Output extends z.ZodObject>(
  definition: ToolDefinition<Name, Input, Output>,
): ToolDefinition<Name, Input, Output> {
  return definition;
}

/** What the four web tools declare alike: they only read the public web, and asking twice changes nothing. */
export const READS_THE_WEB: ToolAnnotations = { readOnlyHint: true, openWorldHint: true, destructiveHint: false, idempotentHint: true };

/** The scope every token of this server carries by default (REQUIRED_SCOPES). */
export const READ_SCOPE = 'web-search:read';

/** Answers never kept: each call is new work (a research), or a look at work in progress. */
export const NEVER_CACHED: CacheRule<unknown> = { lifetimeSeconds: () => 0 };

/** Answers kept for the configured lifetime, whatever was asked. */
export const CACHED_FOR_THE_CONFIGURED_TIME: CacheRule<unknown> = { lifetimeSeconds: (_args, lifetimes) => lifetimes.seconds };

/** A tool as tools/list shows it. */
export interface ToolListing {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly inputSchema: { type: 'object'; [key: string]: unknown };
  readonly outputSchema: { type: 'object'; [key: string]: unknown };
  readonly annotations: ToolAnnotations & { readonly title: string };
}

/** A tool's JSON Schema, as MCP's `inputSchema`/`outputSchema` want it (2020-12, the default dialect). */
export function jsonSchemaOf(schema: z.ZodObject, io: 'input' | 'output'): { type: 'object'; [key: string]: unknown } {
  const { $schema: _dialect, ...jsonSchema } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  return { ...jsonSchema, type: 'object' };
}

/** The tool's listing, computed from its zod schemas (at build time: scripts/generate-tool-catalog.ts). */
export function listingOf(tool: AnyTool): ToolListing {
  return {
    name: tool.name,
    title: tool.title,
    description: tool.description,
    inputSchema: jsonSchemaOf(tool.input, 'input'),
    outputSchema: jsonSchemaOf(tool.output, 'output'),
    annotations: { title: tool.title, ...tool.annotations },
  };
}

/** What the server needs of a set of tools without loading them: tools/list's listings and each tool's default scopes. */
export interface ToolCatalog {
  readonly listings: readonly ToolListing[];
  readonly defaultScopes: Readonly<Record<string, readonly string[]>>;
}

/** The catalog of `tools`, in their order (what `npm run generate` writes for the MCP function). */
export function catalogOf(tools: readonly AnyTool[]): ToolCatalog {
  return {
    listings: tools.map(listingOf),
    defaultScopes: Object.fromEntries(tools.map((tool) => [tool.name, tool.defaultScopes])),
  };
}

/** Markdown-safe one-liner: no newlines, trimmed, bounded. */
export function oneLine(text: string | undefined | null, max = 300): string {
  const flat = (text ?? '').replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
