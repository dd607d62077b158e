/** `web_crawl`: Tavily Crawl, a site walked from a root URL with each page's content. */
import * as z from 'zod/v4';
import { extractionCredits, mappingCredits, pricedPerPage } from './credits.js';
import { inlineText } from './markdown.js';
import { contentFormatInput, extractDepthInput, pageOutput, renderPage, tavilyPage, toPage } from './page-content.js';
import { siteWalkFields, siteWalkRequest, siteWalkTimeout } from './site-walk.js';
import { commonOutputFields, requestTavily, tavilySeconds } from './tavily-request.js';
import { CACHED_FOR_THE_CONFIGURED_TIME, defineTool, oneLine, READ_SCOPE, READS_THE_WEB } from './tool.js';

/** Whole pages add up fast (in time, tokens and credits): a few by default, more on request. */
const DEFAULT_CRAWL_LIMIT = 10;

export const webCrawlInput = z.object({
  ...siteWalkFields('crawl', DEFAULT_CRAWL_LIMIT),
  extract_depth: extractDepthInput,
  format: contentFormatInput,
});
type WebCrawlArgs = z.output<typeof webCrawlInput>;

const tavilyCrawlAnswer = z.object({
  base_url: z.string().nullish(),
  results: z.array(tavilyPage),
  response_time: tavilySeconds,
});

export const webCrawlOutput = z.object({
  base_url: z.string().describe('The root URL the crawl started from.'),
  results: z.array(pageOutput).describe('The pages crawled, with their content.'),
  ...commonOutputFields,
});

const crawlRequest = (args: WebCrawlArgs) => siteWalkRequest('crawl', args);

export default defineTool({
  name: 'web_crawl',
  title: 'Web crawl',
  description:
    "Crawl a website from a root URL, following its links, and get each page's content (markdown or text). Use it to read a section of a site (documentation, a blog); guide it with instructions and path or domain patterns. To only see which pages exist, use web_map (cheaper and faster); to read known URLs, use web_extract.",
  input: webCrawlInput,
  output: webCrawlOutput,
  annotations: READS_THE_WEB,
  defaultScopes: [READ_SCOPE],
  // Mapping (per 10 pages: 1 credit, 2 with instructions) plus extraction (per 5 pages: 1 credit "basic",
  // 2 "advanced"). Reserved: `limit` pages (the default 10, basic: 1 + 2). Charged: the pages that came back.
  credits: pricedPerPage<WebCrawlArgs>(
    (args, pages) => mappingCredits(pages, args.instructions) + extractionCredits(pages, args.extract_depth),
    (args) => args.limit,
  ),
  cache: CACHED_FOR_THE_CONFIGURED_TIME,
  timeoutAdvice: 'narrow the crawl with limit/max_depth (or select_paths), or use web_map first and web_extract the pages you need',
  tavilyRequest: crawlRequest,
  async run(args, context) {
    const data = await requestTavily(context, crawlRequest(args), tavilyCrawlAnswer, { timeout: siteWalkTimeout(context.deadline) });
    return {
      base_url: data.base_url || args.url,
      results: data.results.map(toPage),
      ...(data.response_time !== undefined ? { response_time: data.response_time } : {}),
    };
  },
  render(result) {
    const count = result.results.length;
    const lines = [`## Web crawl: ${inlineText(oneLine(result.base_url, 300))} (${count} page${count === 1 ? '' : 's'})`, ''];
    if (count === 0) lines.push('No pages found. Check the URL, loosen the path or domain patterns, or raise max_depth.');
    result.results.forEach((page, index) => lines.push(...renderPage(page, index)));
    if (result.notice) lines.push('', `_${result.notice}_`);
    return lines.join('\n');
  },
});
