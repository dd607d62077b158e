/**
 * What the tools that return whole pages share (web_extract and web_crawl, and
 * web_search's raw content): the extraction parameters, the page and image
 * shapes, and their markdown rendering.
 */
import * as z from 'zod/v4';
import { bareUrl, fencedText, inlineText, markdownLink, PAGE_CONTENT_TAG } from './markdown.js';
import { oneLine } from './tool.js';

export { markdownLink };

export const extractDepthInput = z
  .enum(['basic', 'advanced'])
  .default('basic')
  .describe(
    '"basic" (1 credit per 5 pages) or "advanced": also tables and embedded content, and succeeds on more pages (LinkedIn, protected or script-heavy sites), but slower and 2 credits per 5 pages.',
  );

export const contentFormatInput = z
  .enum(['markdown', 'text'])
  .default('markdown')
  .describe('Page content as "markdown" (keeps headings, links and lists) or "text" (plain text; may be slower).');

/** Tavily sends image URLs, or objects with descriptions when asked for them. */
export const tavilyImages = z
  .array(z.union([z.string(), z.object({ url: z.string(), description: z.string().nullish() })]))
  .nullish();

export const tavilyPage = z.object({
  url: z.string(),
  title: z.string().nullish(),
  raw_content: z.string().nullish(),
  images: tavilyImages,
});

export const imagesOutput = z.array(z.object({ url: z.string(), description: z.string().optional() }));

export const pageOutput = z.object({
  url: z.string(),
  title: z.string().optional(),
  raw_content: z.string().describe('The page content, in the requested format.'),
  images: imagesOutput.optional().describe('Images found on the page, when they were asked for.'),
});

export type Page = z.output<typeof pageOutput>;

export function toImages(images: z.output<typeof tavilyImages>): z.output<typeof imagesOutput> | undefined {
  if (!images?.length) return undefined;
  return images.map((image) =>
    typeof image === 'string' ? { url: image } : { url: image.url, ...(image.description ? { description: image.description } : {}) },
  );
}

export function toPage(page: z.output<typeof tavilyPage>): Page {
  const images = toImages(page.images);
  return {
    url: page.url,
    ...(page.title ? { title: page.title } : {}),
    raw_content: page.raw_content ?? '',
    ...(images ? { images } : {}),
  };
}

/**
 * Page text is fenced off so that its own headings are not read as this result's structure;
 * the fence tags inside it are made inert, so that it cannot close the fence and go on as if it were us.
 */
export function pageContentBlock(content: string): string[] {
  return [`<${PAGE_CONTENT_TAG}>`, fencedText(content.trim()), `</${PAGE_CONTENT_TAG}>`];
}

export function renderImages(images: z.output<typeof imagesOutput> | undefined, heading = 'Images:'): string[] {
  if (!images?.length) return [];
  return [heading, ...images.map((image) => `- ${bareUrl(image.url)}${image.description ? ` — ${inlineText(oneLine(image.description, 200))}` : ''}`)];
}

export function renderPage(page: Page, index: number): string[] {
  return [
    `### ${index + 1}. ${markdownLink(page.title, page.url)}`,
    ...(page.raw_content.trim() ? pageContentBlock(page.raw_content) : ['_(no content)_']),
    ...renderImages(page.images),
    '',
  ];
}
