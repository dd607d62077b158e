/** `web_search`: Tavily Search, the tool the original server offered. */
import * as z from 'zod/v4';
import { TavilyError } from '../tavily.js';
import { defineTool, oneLine } from './tool.js';

const domainList = (what: string, max: number) =>
  z
    .array(z.string().min(1).max(253))
    .max(max)
    .optional()
    .describe(`${what} (domain names such as "example.com"; at most ${max}).`);

const isoDate = (what: string) =>
  z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/, 'Use the format YYYY-MM-DD')
    .optional()
    .describe(`${what}, as YYYY-MM-DD.`);

export const webSearchInput = z.object({
  query: z.string().min(1).max(400).describe('What to search the web for: a question or keywords.'),
  search_depth: z
    .enum(['basic', 'advanced', 'fast', 'ultra-fast'])
    .default('basic')
    .describe(
      'Latency versus relevance: "basic" (balanced, 1 credit), "advanced" (most relevant snippets, 2 credits), "fast" or "ultra-fast" (lowest latency).',
    ),
  topic: z
    .enum(['general', 'news', 'finance'])
    .default('general')
    .describe('"news" for current events (adds published dates), "finance" for markets, otherwise "general".'),
  time_range: z
    .enum(['day', 'week', 'month', 'year'])
    .optional()
    .describe('Only results published within this period before today.'),
  start_date: isoDate('Only results published on or after this date'),
  end_date: isoDate('Only results published on or before this date'),
  max_results: z.number().int().min(1).max(20).default(5).describe('How many results to return, from 1 to 20.'),
  include_answer: z
    .union([z.boolean(), z.enum(['basic', 'advanced'])])
    .default(false)
    .describe('Also return a short LLM-written answer to the query: true or "basic" for a quick one, "advanced" for a detailed one.'),
  include_raw_content: z
    .union([z.boolean(), z.enum(['markdown', 'text'])])
    .default(false)
    .describe('Also return each page\'s cleaned full content: true or "markdown", or "text". Large: use with few results.'),
  include_images: z.boolean().default(false).describe('Also return image URLs related to the query.'),
  include_domains: domainList('Only return results from these domains', 300),
  exclude_domains: domainList('Never return results from these domains', 150),
  country: z
    .string()
    .regex(/^[a-z][a-z ]{1,40}$/, 'Use a lower-case English country name, e.g. "united states"')
    .optional()
    .describe('Boost results from this country (lower-case English name, e.g. "germany"); only with topic "general".'),
  exact_match: z
    .boolean()
    .default(false)
    .describe('Only return results containing the exact quoted phrases of the query.'),
});

const tavilySearchResponse = z.object({
  query: z.string().optional(),
  answer: z.string().nullish(),
  images: z
    .array(z.union([z.string(), z.object({ url: z.string(), description: z.string().nullish() })]))
    .nullish(),
  results: z.array(
    z.object({
      title: z.string().nullish(),
      url: z.string(),
      content: z.string().nullish(),
      score: z.number().nullish(),
      raw_content: z.string().nullish(),
      published_date: z.string().nullish(),
    }),
  ),
  response_time: z.union([z.number(), z.string()]).nullish(),
});

export const webSearchOutput = z.object({
  query: z.string(),
  answer: z.string().optional().describe('The short answer, when include_answer was set.'),
  results: z.array(
    z.object({
      title: z.string(),
      url: z.string(),
      content: z.string().describe('The most relevant snippet of the page.'),
      score: z.number().optional().describe('Relevance, 0 to 1.'),
      published_date: z.string().optional(),
      raw_content: z.string().optional().describe('The full page content, when include_raw_content was set.'),
    }),
  ),
  images: z.array(z.object({ url: z.string(), description: z.string().optional() })).optional(),
  response_time: z.number().optional().describe("Tavily's processing time in seconds."),
  notice: z.string().optional().describe('Set when part of the result was cut to fit the response size limit.'),
});

export const webSearch = defineTool({
  name: 'web_search',
  title: 'Web search',
  description:
    'Search the web with Tavily and get ranked results with titles, URLs and relevant snippets, optionally a short answer, page contents and images. Use it for current events, facts to check, and finding pages to read.',
  input: webSearchInput,
  output: webSearchOutput,
  timeoutAdvice: 'try search_depth "basic" or "fast", or fewer max_results',
  async run(args, context) {
    const { country, ...rest } = args;
    const body: Record<string, unknown> = { ...rest };
    if (country !== undefined) body.country = country;
    const answer = await context.tavily.call('search', body, {
      deadline: context.deadline,
      signal: context.signal,
      onAttempt: context.onTavilyAttempt,
    });
    const parsed = tavilySearchResponse.safeParse(answer);
    if (!parsed.success) throw new TavilyError('bad_response', 'Tavily answered search with an unexpected shape');
    const data = parsed.data;
    return {
      query: data.query ?? args.query,
      ...(data.answer ? { answer: data.answer } : {}),
      results: data.results.map((result) => ({
        title: result.title ?? result.url,
        url: result.url,
        content: result.content ?? '',
        ...(typeof result.score === 'number' ? { score: result.score } : {}),
        ...(result.published_date ? { published_date: result.published_date } : {}),
        ...(result.raw_content ? { raw_content: result.raw_content } : {}),
      })),
      ...(data.images && data.images.length > 0
        ? {
            images: data.images.map((image) =>
              typeof image === 'string' ? { url: image } : { url: image.url, ...(image.description ? { description: image.description } : {}) },
            ),
          }
        : {}),
      ...(typeof data.response_time === 'number' ? { response_time: data.response_time } : {}),
    };
  },
  render(result) {
    const lines = [`## Web search: ${oneLine(result.query, 200)}`, ''];
    if (result.answer) lines.push(`**Answer:** ${result.answer.trim()}`, '');
    if (result.results.length === 0) lines.push('No results. Try other keywords, a wider time range, or fewer domain filters.');
    result.results.forEach((item, index) => {
      const published = item.published_date ? ` (${oneLine(item.published_date, 40)})` : '';
      lines.push(`${index + 1}. [${oneLine(item.title, 200) || item.url}](${item.url})${published}`);
      if (item.content) lines.push(`   ${oneLine(item.content, 2_000)}`);
      if (item.raw_content) lines.push('', '   <page-content>', item.raw_content.trim(), '   </page-content>', '');
    });
    if (result.images?.length) {
      lines.push('', '**Images:**');
      for (const image of result.images) lines.push(`- ${image.url}${image.description ? ` — ${oneLine(image.description, 200)}` : ''}`);
    }
    if (result.notice) lines.push('', `_${result.notice}_`);
    return lines.join('\n');
  },
});
