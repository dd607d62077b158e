/**
 * The naive v2 bundle of issue 14's budgets: the MCP SDK v2 on Lambda the way
 * its public samples put it there. `McpServer` from @modelcontextprotocol/server
 * 2.4.0 with the four tools (same names and descriptions, zod input schemas),
 * `createMcpHandler(() => new McpServer(...))` building a server per request with
 * its default options (both eras: 2026-07-28 natively, 2025 ones through its
 * stateless fallback), default imports (no aliasing of the SDK's Ajv validator),
 * inside a plain Lambda handler turning the API Gateway event into a Request and
 * the Response back. web_search searches as the samples do: the Tavily key from
 * SSM with Powertools' `getParameter` (decrypted, cached by Powertools), then a
 * `fetch` to Tavily, its JSON returned as text; the bench's first-search session
 * calls it. Powertools is loaded on that first call rather than at the top of the
 * file: the handshake figures stay those of the SDK alone, the stricter comparison.
 * The other tools return a fixed text: the bench never calls them.
 *
 * Not product code: only `npm run bench` builds it, with the stack's esbuild
 * options minus the product's module substitutions.
 */
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { z } from 'zod';

const FIXED = { content: [{ type: 'text' as const, text: 'not called by the bench' }] };

async function search(args: Record<string, unknown>) {
  const { getParameter } = await import('@aws-lambda-powertools/parameters/ssm');
  const apiKey = await getParameter(process.env.TAVILY_API_KEY_PARAMETER!, { decrypt: true });
  const response = await fetch(`${process.env.TAVILY_API_BASE_URL ?? 'https://api.tavily.com'}/search`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${apiKey}` },
    body: JSON.stringify(args),
  });
  if (!response.ok) return { content: [{ type: 'text' as const, text: `Tavily answered HTTP ${response.status}` }], isError: true };
  return { content: [{ type: 'text' as const, text: JSON.stringify(await response.json()) }] };
}

const domains = (what: string) => z.array(z.string()).optional().describe(`${what} (domain names such as "example.com").`);
const patterns = (what: string) => z.array(z.string()).optional().describe(`${what} (regular expressions).`);

const siteWalkShape = {
  url: z.string().url().describe('The root URL to begin from.'),
  max_depth: z.number().int().min(1).max(5).default(1).describe('How far from the root URL to explore, in links.'),
  max_breadth: z.number().int().min(1).max(500).default(20).describe('Links to follow per page at each level.'),
  limit: z.number().int().min(1).default(50).describe('Total pages to process before stopping.'),
  instructions: z.string().optional().describe('Natural-language instructions for which pages to return.'),
  select_paths: patterns('Only follow URLs whose path matches one of these'),
  select_domains: patterns('Only follow URLs whose domain matches one of these'),
  exclude_paths: patterns('Skip URLs whose path matches any of these'),
  exclude_domains: patterns('Skip URLs whose domain matches any of these'),
  allow_external: z.boolean().default(true).describe('Whether to return links to external domains.'),
};

function createServer(): McpServer {
  const server = new McpServer({ name: 'web-search-naive-v2', version: '1.0.0' });

  server.registerTool(
    'web_search',
    {
      title: 'Web search',
      description: 'Search the web with Tavily and return relevant results with their URLs and content snippets.',
      inputSchema: z.object({
        query: z.string().min(1).max(400).describe('What to search the web for.'),
        search_depth: z.enum(['basic', 'advanced', 'fast', 'ultra-fast']).default('basic').describe('Latency versus relevance.'),
        topic: z.enum(['general', 'news', 'finance']).default('general').describe('The category of the search.'),
        time_range: z.enum(['day', 'week', 'month', 'year']).optional().describe('Only results from this period before today.'),
        start_date: z.string().optional().describe('Only results on or after this date, as YYYY-MM-DD.'),
        end_date: z.string().optional().describe('Only results on or before this date, as YYYY-MM-DD.'),
        max_results: z.number().int().min(1).max(20).default(5).describe('How many results to return.'),
        include_answer: z.boolean().default(false).describe('Also return a short LLM-written answer.'),
        include_images: z.boolean().default(false).describe('Also return related images.'),
        include_raw_content: z.boolean().default(false).describe('Also return the full content of each page.'),
        include_domains: domains('Only results from these domains'),
        exclude_domains: domains('No results from these domains'),
        country: z.string().optional().describe('Boost results from this country.'),
      }),
    },
    search,
  );

  server.registerTool(
    'web_extract',
    {
      title: 'Web extract',
      description: 'Extract the content of one or more web pages as markdown or text.',
      inputSchema: z.object({
        urls: z.array(z.string().url()).min(1).max(20).describe('The pages to read.'),
        extract_depth: z.enum(['basic', 'advanced']).default('basic').describe('"advanced" also reads tables and embedded content.'),
        format: z.enum(['markdown', 'text']).default('markdown').describe('The format of the extracted content.'),
        include_images: z.boolean().default(false).describe('Also return the image URLs found on each page.'),
        include_favicon: z.boolean().default(false).describe('Also return each page favicon URL.'),
        query: z.string().optional().describe('Rerank the extracted chunks by relevance to this query.'),
        chunks_per_source: z.number().int().min(1).max(5).optional().describe('Chunks per page when a query is given.'),
        timeout: z.number().min(1).max(60).optional().describe('Seconds to wait for the extraction.'),
        include_usage: z.boolean().default(false).describe('Also return the credits used.'),
        country: z.string().optional().describe('Fetch the pages as from this country.'),
      }),
    },
    async () => FIXED,
  );

  server.registerTool(
    'web_crawl',
    {
      title: 'Web crawl',
      description: 'Crawl a website from a root URL, following links, and return the content of the pages found.',
      inputSchema: z.object({
        ...siteWalkShape,
        extract_depth: z.enum(['basic', 'advanced']).default('basic').describe('"advanced" also reads tables and embedded content.'),
        format: z.enum(['markdown', 'text']).default('markdown').describe('The format of the extracted content.'),
      }),
    },
    async () => FIXED,
  );

  server.registerTool(
    'web_map',
    {
      title: 'Web map',
      description: "Map a website's structure from a root URL: the URLs of its pages, without their content.",
      inputSchema: z.object(siteWalkShape),
    },
    async () => FIXED,
  );

  return server;
}

const mcp = createMcpHandler(() => createServer());

export const handler = async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
  const headers = new Headers();
  for (const [name, value] of Object.entries(event.headers ?? {})) if (value !== undefined) headers.set(name, value);
  const body = event.body ? (event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body) : undefined;
  const request = new Request(`https://${headers.get('host') ?? 'localhost'}${event.path}`, {
    method: event.httpMethod,
    headers,
    body: event.httpMethod === 'GET' || event.httpMethod === 'HEAD' ? undefined : body,
  });
  const response = await mcp.fetch(request);
  return { statusCode: response.status, headers: Object.fromEntries(response.headers), body: await response.text() };
};
