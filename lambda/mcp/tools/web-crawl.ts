/** `web_crawl`: Tavily Crawl, a site walked from a root URL with each page's content. */
import * as z from 'zod/v4';
import { inlineText } from './markdown.js';
import { contentFormatInput, extractDepthInput, pageOutput, renderPage, tavilyPage, toPage } from './page-content.js';
import { siteWalkBody, siteWalkFields } from './site-walk.js';
import { commonOutputFields, requestTavily, tavilySeconds } from './tavily-request.js';
import { defineTool, oneLine } from './tool.js';

/** Whole pages add up fast (in time, tokens and credits): a few by default, more on request. */
const DEFAULT_CRAWL_LIMIT = 10;

export const webCrawlInput = z.object({
  ...siteWalkFields('crawl', DEFAULT_CRAWL_LIMIT),
  extract_depth: extractDepthInput,
  format: contentFormatInput,
});

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

export const webCrawl = defineTool({
  name: 'web_crawl',
  title: 'Web crawl',
  description:
    "Crawl a website from a root URL, following its links, and get each page's content (markdown or text). Use it to read a section of a site (documentation, a blog); guide it with instructions and path or domain patterns. To only see which pages exist, use web_map (cheaper and faster); to read known URLs, use web_extract.",
  input: webCrawlInput,
  output: webCrawlOutput,
  timeoutAdvice: 'narrow the crawl with limit/max_depth (or select_paths), or use web_map first and web_extract the pages you need',
  async run(args, context) {
    const data = await requestTavily(context, 'crawl', siteWalkBody(args, context.deadline), tavilyCrawlAnswer);
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
