/**
 * What a tool is: a zod input and output schema, a function from arguments (and
 * injected dependencies) to a structured result, and a markdown rendering of that
 * result an LLM can quote. Tools know nothing of HTTP or MCP sessions; server.ts
 * registers them and turns failures into `isError` results.
 */
import * as z from 'zod/v4';
import type { TavilyClient } from '../tavily.js';

export interface ToolContext {
  readonly tavily: TavilyClient;
  /** Absolute time (ms since the epoch) by which the tool must have answered. */
  readonly deadline: number;
  readonly signal: AbortSignal;
  /** Called per Tavily HTTP attempt, for logs and metrics. */
  readonly onTavilyAttempt?: (status: number, durationMs: number) => void;
}

export interface ToolDefinition<Input extends z.ZodObject = z.ZodObject, Output extends z.ZodObject = z.ZodObject> {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly input: Input;
  readonly output: Output;
  /** What to tell the agent when the deadline passes ("narrow the crawl with limit/max_depth"). */
  readonly timeoutAdvice: string;
  run(args: z.output<Input>, context: ToolContext): Promise<z.output<Output>>;
  render(result: z.output<Output>): string;
}

/** A tool as tools/list shows it (before annotations, which the server adds). */
export interface ToolListing {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly inputSchema: { type: 'object'; [key: string]: unknown };
  readonly outputSchema: { type: 'object'; [key: string]: unknown };
}

/** Identity, for type inference at each tool's definition. */
export function defineTool<Input extends z.ZodObject, Output extends z.ZodObject>(
  definition: ToolDefinition<Input, Output>,
): ToolDefinition<Input, Output> {
  return definition;
}

/** A tool's JSON Schema, as MCP's `inputSchema`/`outputSchema` want it (2020-12, the default dialect). */
export function jsonSchemaOf(schema: z.ZodObject, io: 'input' | 'output'): { type: 'object'; [key: string]: unknown } {
  const { $schema: _dialect, ...jsonSchema } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  return { ...jsonSchema, type: 'object' };
}

/** Markdown-safe one-liner: no newlines, trimmed, bounded. */
export function oneLine(text: string | undefined | null, max = 300): string {
  const flat = (text ?? '').replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
