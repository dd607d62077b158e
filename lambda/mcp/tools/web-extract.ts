/** `web_extract`: Tavily Extract, the content of pages the agent already has URLs for. */
import * as z from 'zod/v4';
import { TavilyError } from '../tavily.js';
import { extractionCredits, pricedPerPage } from './credits.js';
import { bareUrl, inlineText } from './markdown.js';
import { contentFormatInput, extractDepthInput, pageOutput, renderPage, tavilyPage, toPage } from './page-content.js';
import { commonOutputFields, requestTavily, tavilyRequestOf, tavilySeconds, tavilyTimeoutSeconds } from './tavily-request.js';
import { CACHED_FOR_THE_CONFIGURED_TIME, defineTool, oneLine, READ_SCOPE, READS_THE_WEB } from './tool.js';

/** Tavily's documented maximum per call. */
export const MAX_EXTRACT_URLS = 20;

/** Tavily's documented range for the extract `timeout`, in seconds. */
const EXTRACT_TIMEOUT_RANGE = { min: 1, max: 60 } as const;

/** What Tavily waits when no `timeout` is sent; only a shorter deadline makes us send one. */
const TAVILY_EXTRACT_DEFAULT_TIMEOUT = { basic: 10, advanced: 30 } as const;

export const webExtractInput = z.object({
  urls: z
    .array(
      z
        .url({ protocol: z.regexes.httpProtocol, error: 'Use a full http(s) URL such as "https://example.com/page"' })
        .max(2048),
    )
    .min(1, 'Give at least one URL')
    .max(MAX_EXTRACT_URLS, `Tavily extracts at most ${MAX_EXTRACT_URLS} URLs per call: split them over several calls`)
    .describe(`The pages to read: 1 to ${MAX_EXTRACT_URLS} full http(s) URLs.`),
  extract_depth: extractDepthInput,
  format: contentFormatInput,
  query: z
    .string()
    .trim()
    .min(1)
    .max(400)
    .optional()
    .describe(
      "What you are looking for (e.g. \"pricing of the pro plan\"): each page's content is then cut down to its few passages most relevant to it, instead of the whole page.",
    ),
  include_images: z.boolean().default(false).describe('Also return the image URLs found on each page.'),
});
type WebExtractArgs = z.output<typeof webExtractInput>;

/** The same URL twice would be fetched and charged twice; the order is kept, as the results follow it. */
const distinctUrls = (args: WebExtractArgs) => [...new Set(args.urls)];

const extractRequest = (args: WebExtractArgs) => tavilyRequestOf('extract', { ...args, urls: distinctUrls(args) });

const tavilyExtractAnswer = z.object({
  results: z.array(tavilyPage),
  failed_results: z.array(z.object({ url: z.string(), error: z.string().nullish() })).nullish(),
  response_time: tavilySeconds,
});

const failedUrl = z.object({ url: z.string(), error: z.string().describe("Tavily's reason.") });

export const webExtractOutput = z.object({
  results: z.array(pageOutput).describe('The pages extracted, with their content.'),
  failed_results: z.array(failedUrl).describe('The URLs that could not be extracted, and why (these cost nothing).'),
  ...commonOutputFields,
});

export default defineTool({
  name: 'web_extract',
  title: 'Web extract',
  description:
    "Read web pages: get the cleaned content (markdown or text) of up to 20 URLs at once, e.g. from web_search results. Give a query to keep only each page's passages relevant to it. URLs that cannot be read are listed with the reason; the others are still returned.",
  input: webExtractInput,
  output: webExtractOutput,
  annotations: READS_THE_WEB,
  defaultScopes: [READ_SCOPE],
  // Per 5 pages extracted, 1 credit ("basic") or 2 ("advanced"); failed URLs cost nothing. Reserved: every
  // distinct URL extracted (20 advanced URLs: 8). Charged: the pages that came back.
  credits: pricedPerPage<WebExtractArgs>((args, pages) => extractionCredits(pages, args.extract_depth), (args) => distinctUrls(args).length),
  cache: CACHED_FOR_THE_CONFIGURED_TIME,
  timeoutAdvice: 'pass fewer URLs, or use extract_depth "basic"',
  tavilyRequest: extractRequest,
  async run(args, context) {
    const urls = distinctUrls(args);
    const available = tavilyTimeoutSeconds(context.deadline, EXTRACT_TIMEOUT_RANGE);
    const timeout = available < TAVILY_EXTRACT_DEFAULT_TIMEOUT[args.extract_depth] ? available : undefined;

    const data = await requestTavily(context, extractRequest(args), tavilyExtractAnswer, { timeout });
    const failed = (data.failed_results ?? []).map((failure) => ({
      url: oneLine(failure.url, 2_048),
      error: oneLine(failure.error, 300) || 'no reason given',
    }));
    if (data.results.length === 0) {
      // Tavily answers 200 even when nothing could be read; to the agent that is a failed call.
      const failures = failed.length > 0 ? failed : urls.map((url) => ({ url, error: 'no content returned' }));
      const listed = failures.slice(0, MAX_EXTRACT_URLS).map((failure) => `- ${failure.url}: ${failure.error}`);
      const advice = args.extract_depth === 'basic' ? ', or try extract_depth "advanced" for protected or script-heavy pages' : '';
      throw new TavilyError('bad_request', 'Tavily could not extract any of the URLs', {
        detail: `none of the URLs could be extracted:\n${listed.join('\n')}\nCheck the URLs${advice}`,
      });
    }
    return {
      results: data.results.map(toPage),
      failed_results: failed,
      ...(data.response_time !== undefined ? { response_time: data.response_time } : {}),
    };
  },
  render(result) {
    const extracted = result.results.length;
    const total = extracted + result.failed_results.length;
    const lines = [`## Web extract: ${extracted} of ${total} URL${total === 1 ? '' : 's'} extracted`, ''];
    result.results.forEach((page, index) => lines.push(...renderPage(page, index)));
    if (result.failed_results.length > 0) {
      lines.push('### Failed URLs', ...result.failed_results.map((failure) => `- ${bareUrl(failure.url)}: ${inlineText(oneLine(failure.error, 300))}`));
    }
    if (result.notice) lines.push('', `_${result.notice}_`);
    return lines.join('\n');
  },
});
