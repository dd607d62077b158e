/** `web_search`: Tavily Search, the tool the original server offered. */
import * as z from 'zod/v4';
import { pricedPerCall } from './credits.js';
import { blockText, inlineText } from './markdown.js';
import { markdownLink, pageContentBlock, renderImages, imagesOutput, tavilyImages, toImages } from './page-content.js';
import { asSet, commonOutputFields, requestTavily, tavilyRequestOf, tavilySeconds } from './tavily-request.js';
import { defineTool, oneLine, READ_SCOPE, READS_THE_WEB } from './tool.js';

/** The countries Tavily's `country` accepts (docs.tavily.com, search endpoint), as it spells them. */
export const TAVILY_COUNTRIES = [
  'afghanistan', 'albania', 'algeria', 'andorra', 'angola', 'argentina', 'armenia', 'australia', 'austria', 'azerbaijan',
  'bahamas', 'bahrain', 'bangladesh', 'barbados', 'belarus', 'belgium', 'belize', 'benin', 'bhutan', 'bolivia',
  'bosnia and herzegovina', 'botswana', 'brazil', 'brunei', 'bulgaria', 'burkina faso', 'burundi', 'cambodia', 'cameroon',
  'canada', 'cape verde', 'central african republic', 'chad', 'chile', 'china', 'colombia', 'comoros', 'congo', 'costa rica',
  'croatia', 'cuba', 'cyprus', 'czech republic', 'denmark', 'djibouti', 'dominican republic', 'ecuador', 'egypt', 'el salvador',
  'equatorial guinea', 'eritrea', 'estonia', 'ethiopia', 'fiji', 'finland', 'france', 'gabon', 'gambia', 'georgia', 'germany',
  'ghana', 'greece', 'guatemala', 'guinea', 'haiti', 'honduras', 'hungary', 'iceland', 'india', 'indonesia', 'iran', 'iraq',
  'ireland', 'israel', 'italy', 'jamaica', 'japan', 'jordan', 'kazakhstan', 'kenya', 'kuwait', 'kyrgyzstan', 'latvia', 'lebanon',
  'lesotho', 'liberia', 'libya', 'liechtenstein', 'lithuania', 'luxembourg', 'madagascar', 'malawi', 'malaysia', 'maldives',
  'mali', 'malta', 'mauritania', 'mauritius', 'mexico', 'moldova', 'monaco', 'mongolia', 'montenegro', 'morocco', 'mozambique',
  'myanmar', 'namibia', 'nepal', 'netherlands', 'new zealand', 'nicaragua', 'niger', 'nigeria', 'north korea', 'north macedonia',
  'norway', 'oman', 'pakistan', 'panama', 'papua new guinea', 'paraguay', 'peru', 'philippines', 'poland', 'portugal', 'qatar',
  'romania', 'russia', 'rwanda', 'saudi arabia', 'senegal', 'serbia', 'singapore', 'slovakia', 'slovenia', 'somalia',
  'south africa', 'south korea', 'south sudan', 'spain', 'sri lanka', 'sudan', 'sweden', 'switzerland', 'syria', 'taiwan',
  'tajikistan', 'tanzania', 'thailand', 'togo', 'trinidad and tobago', 'tunisia', 'turkey', 'turkmenistan', 'uganda', 'ukraine',
  'united arab emirates', 'united kingdom', 'united states', 'uruguay', 'uzbekistan', 'venezuela', 'vietnam', 'yemen', 'zambia',
  'zimbabwe'
] as const;

const domainList = (what: string, max: number) =>
  z
    .array(z.string().trim().min(1).max(253))
    .max(max, `At most ${max} domains`)
    .optional()
    .describe(`${what} (domain names such as "example.com"; at most ${max}).`);

const isCalendarDate = (text: string) => {
  const date = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(text);
};

const isoDate = (what: string) =>
  z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/, { error: 'Use the format YYYY-MM-DD', abort: true })
    .refine(isCalendarDate, 'Not a real calendar date')
    .optional()
    .describe(`${what}, as YYYY-MM-DD. Cannot be combined with time_range.`);

export const webSearchInput = z
  .object({
    query: z
      .string()
      .trim()
      .min(1)
      .max(400, 'Tavily accepts at most 400 characters: shorten the query')
      .describe('What to search the web for: a question or keywords (at most 400 characters).'),
    search_depth: z
      .enum(['basic', 'advanced', 'fast', 'ultra-fast'])
      .default('basic')
      .describe(
        'Latency versus relevance: "basic" (balanced, one summary per page, 1 credit), "advanced" (most relevant snippets, slower, 2 credits), "fast" (low latency, good relevance) or "ultra-fast" (lowest latency).',
      ),
    topic: z
      .enum(['general', 'news', 'finance'])
      .default('general')
      .describe(
        'Use "general" for most queries, including those with words like "latest", "newest" or "recent" about general information. Use "finance" for markets, investments, economic data or financial news. Use "news" only for politics, sports or major current events covered by mainstream media (results then carry published dates), not merely because the query asks for something new.',
      ),
    time_range: z
      .enum(['day', 'week', 'month', 'year', 'd', 'w', 'm', 'y'])
      .optional()
      .describe(
        'Only results published or updated within this period before today: "day" (24 h), "week" (7 days), "month" (30 days), "year" (365 days), or "d", "w", "m", "y". Set it only when the user asks for a period; for niche topics prefer "month" or "year". Cannot be combined with start_date/end_date.',
      ),
    start_date: isoDate('Only results published or updated on or after this date'),
    end_date: isoDate('Only results published or updated on or before this date'),
    max_results: z.number().int().min(1).max(20).default(5).describe('How many results to return, from 1 to 20.'),
    include_answer: z
      .union([z.boolean(), z.enum(['basic', 'advanced'])])
      .default(false)
      .describe('Also return a short LLM-written answer to the query: true or "basic" for a quick one, "advanced" for a detailed one.'),
    include_raw_content: z
      .union([z.boolean(), z.enum(['markdown', 'text'])])
      .default(false)
      .describe('Also return each page\'s cleaned full content: true or "markdown", or "text" (may be slower). Large: use with few results.'),
    include_images: z.boolean().default(false).describe('Also return image URLs related to the query.'),
    include_domains: domainList('Results will only come from these domains', 300),
    exclude_domains: domainList('Never return results from these domains', 150),
    // Checked against Tavily's list here rather than listed in the schema: the whole list would
    // lengthen every tools/list, and every client's context, for one optional parameter.
    country: z
      .string()
      .max(60)
      .transform((value, context) => {
        const country = value.trim().toLowerCase();
        if ((TAVILY_COUNTRIES as readonly string[]).includes(country)) return country;
        const close = TAVILY_COUNTRIES.filter((name) => name.startsWith(country.slice(0, 3))).slice(0, 5);
        context.addIssue({
          code: 'custom',
          message: `"${value.slice(0, 60)}" is not a country Tavily knows: use its English name in lower case, e.g. "united states" or "germany" (ISO codes are not accepted)${close.length ? `; did you mean ${close.map((name) => `"${name}"`).join(', ')}?` : ''}`,
        });
        return z.NEVER;
      })
      .optional()
      .describe('Boost results from this country, by its English name in lower case (e.g. "united states", "germany"; not an ISO code). Only with topic "general".'),
    exact_match: z
      .boolean()
      .default(false)
      .describe('Only return results containing the exact phrase(s) written in double quotes in the query, e.g. "\\"John Smith\\" CEO Acme Corp", without synonyms.'),
  })
  .superRefine((args, context) => {
    if (args.time_range && (args.start_date || args.end_date)) {
      // Tavily errors on the combination; the official server silently drops time_range instead.
      context.addIssue({
        code: 'custom',
        path: ['time_range'],
        message: 'time_range cannot be combined with start_date/end_date: give either a period back from today or explicit dates',
      });
    }
    if (args.start_date && args.end_date && args.start_date > args.end_date) {
      context.addIssue({ code: 'custom', path: ['end_date'], message: 'end_date is before start_date' });
    }
    if (args.country && args.topic !== 'general') {
      context.addIssue({
        code: 'custom',
        path: ['country'],
        message: `country only works with topic "general", not "${args.topic}": remove country or set topic to "general"`,
      });
    }
  });

type WebSearchArgs = z.output<typeof webSearchInput>;

/** Domain names are case-insensitive: the filters go as sets of lower-case names. */
const searchRequest = (args: WebSearchArgs) =>
  tavilyRequestOf('search', {
    ...args,
    include_domains: asSet(args.include_domains, (domain) => domain.toLowerCase()),
    exclude_domains: asSet(args.exclude_domains, (domain) => domain.toLowerCase()),
  });

const tavilySearchAnswer = z.object({
  query: z.string().optional(),
  answer: z.string().nullish(),
  images: tavilyImages,
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
  response_time: tavilySeconds,
});

export const webSearchOutput = z.object({
  query: z.string(),
  answer: z.string().optional().describe('The short answer, when include_answer was set.'),
  results: z.array(
    z.object({
      title: z.string(),
      url: z.string(),
      content: z.string().describe('The most relevant snippet(s) of the page.'),
      score: z.number().optional().describe('Relevance, 0 to 1.'),
      published_date: z.string().optional(),
      raw_content: z.string().optional().describe('The full page content, when include_raw_content was set.'),
    }),
  ),
  images: imagesOutput.optional(),
  ...commonOutputFields,
});

export default defineTool({
  name: 'web_search',
  title: 'Web search',
  description:
    'Search the web with Tavily and get ranked results with titles, URLs and relevant snippets, optionally a short answer, page contents and images. Use it for current events, facts to check, and finding pages to read (then web_extract them for their full text).',
  input: webSearchInput,
  output: webSearchOutput,
  annotations: READS_THE_WEB,
  defaultScopes: [READ_SCOPE],
  // 2 credits for search_depth "advanced", 1 for "basic", "fast" and "ultra-fast", per request, whatever it
  // returns: reserved and charged alike (no other argument changes the price).
  credits: pricedPerCall<WebSearchArgs>((args) => (args.search_depth === 'advanced' ? 2 : 1)),
  // News moves fast: topic "news" gets its own, shorter, lifetime.
  cache: {
    lifetimeSeconds: (args, lifetimes) => (args.topic === 'news' ? Math.min(lifetimes.seconds, lifetimes.newsSeconds) : lifetimes.seconds),
  },
  timeoutAdvice: 'try search_depth "basic" or "fast", or fewer max_results',
  tavilyRequest: searchRequest,
  async run(args, context) {
    const data = await requestTavily(context, searchRequest(args), tavilySearchAnswer);
    const images = toImages(data.images);
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
      ...(images ? { images } : {}),
      ...(data.response_time !== undefined ? { response_time: data.response_time } : {}),
    };
  },
  render(result) {
    const lines = [`## Web search: ${inlineText(oneLine(result.query, 200))}`, ''];
    if (result.answer) lines.push(`**Answer:** ${blockText(result.answer.trim())}`, '');
    if (result.results.length === 0) lines.push('No results. Try other keywords, a wider time range, or fewer domain filters.');
    result.results.forEach((item, index) => {
      const published = item.published_date ? ` (${inlineText(oneLine(item.published_date, 40))})` : '';
      lines.push(`${index + 1}. ${markdownLink(item.title, item.url)}${published}`);
      if (item.content) lines.push(`   ${inlineText(oneLine(item.content, 2_000))}`);
      if (item.raw_content) lines.push(...pageContentBlock(item.raw_content), '');
    });
    const images = renderImages(result.images, '**Images:**');
    if (images.length) lines.push('', ...images);
    if (result.notice) lines.push('', `_${result.notice}_`);
    return lines.join('\n');
  },
});
