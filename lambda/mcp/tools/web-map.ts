/** `web_map`: Tavily Map, the URLs of a site walked from a root URL, without their content. */
import * as z from 'zod/v4';
import { mappingCredits, pricedPerPage } from './credits.js';
import { bareUrl, inlineText } from './markdown.js';
import { siteWalkFields, siteWalkRequest, siteWalkTimeout } from './site-walk.js';
import { commonOutputFields, requestTavily, tavilySeconds } from './tavily-request.js';
import { CACHED_FOR_THE_CONFIGURED_TIME, defineTool, oneLine, READ_SCOPE, READS_THE_WEB } from './tool.js';

/** Tavily's own default: URLs are small, so a map can afford many. */
const DEFAULT_MAP_LIMIT = 50;

export const webMapInput = z.object(siteWalkFields('map', DEFAULT_MAP_LIMIT));
type WebMapArgs = z.output<typeof webMapInput>;

const tavilyMapAnswer = z.object({
  base_url: z.string().nullish(),
  results: z.array(z.string()),
  response_time: tavilySeconds,
});

export const webMapOutput = z.object({
  base_url: z.string().describe('The root URL the map started from.'),
  urls: z.array(z.string()).describe('The URLs found.'),
  ...commonOutputFields,
});

const mapRequest = (args: WebMapArgs) => siteWalkRequest('map', args);

export default defineTool({
  name: 'web_map',
  title: 'Web map',
  description:
    "List the URLs of a website by following its links from a root URL, without their content. Use it to discover a site's structure or find the pages worth reading, then read them with web_extract (or web_crawl with select_paths).",
  input: webMapInput,
  output: webMapOutput,
  annotations: READS_THE_WEB,
  defaultScopes: [READ_SCOPE],
  // Per 10 URLs returned, 1 credit, or 2 with instructions. Reserved: `limit` URLs (the default 50: 5).
  // Charged: the URLs that came back.
  credits: pricedPerPage<WebMapArgs>((args, pages) => mappingCredits(pages, args.instructions), (args) => args.limit),
  cache: CACHED_FOR_THE_CONFIGURED_TIME,
  timeoutAdvice: 'narrow the map with limit/max_depth (or select_paths)',
  tavilyRequest: mapRequest,
  async run(args, context) {
    const data = await requestTavily(context, mapRequest(args), tavilyMapAnswer, { timeout: siteWalkTimeout(context.deadline) });
    return {
      base_url: data.base_url || args.url,
      urls: data.results,
      ...(data.response_time !== undefined ? { response_time: data.response_time } : {}),
    };
  },
  render(result) {
    const count = result.urls.length;
    const lines = [`## Web map: ${inlineText(oneLine(result.base_url, 300))} (${count} URL${count === 1 ? '' : 's'})`, ''];
    if (count === 0) lines.push('No URLs found. Check the URL, loosen the path or domain patterns, or raise max_depth.');
    for (const url of result.urls) lines.push(`- ${bareUrl(url)}`);
    if (result.notice) lines.push('', `_${result.notice}_`);
    return lines.join('\n');
  },
});
