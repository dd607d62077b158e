/**
 * Markdown for text that others wrote. A tool result's text is read by a model,
 * and what Tavily returns (titles, URLs, snippets, page text) is written by
 * whoever owns the page: it must not be able to add a link, close the
 * page-content fence, or forge a result of its own. These functions are the
 * only way such text enters a rendering. Structured content is never passed
 * through them: it keeps the values as Tavily sent them.
 */
import { oneLine } from './tool.js';

/** The tag that fences a page's text off from the structure of the result around it. */
export const PAGE_CONTENT_TAG = 'page-content';

/**
 * Characters that would end or reshape a link destination, or start an autolink or
 * HTML: percent-encoded, so that the destination is one token and means the same URL.
 */
const UNSAFE_IN_DESTINATION = /[\s\x00-\x1f\x7f()<>[\]\\`"'{}|^]/gu;

const percentEncode = (character: string) =>
  [...new TextEncoder().encode(character)].map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`).join('');

/**
 * A link destination for `url`, or undefined when it is not an http(s) URL
 * (`javascript:`, `data:`, `file:`, anything the URL parser refuses). The URL
 * keeps its own spelling (what Tavily sent); only unsafe characters are encoded.
 */
export function linkDestination(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return undefined;
  // The WHATWG parser strips leading and trailing spaces and control characters; so do we, to
  // keep the check and the output about the same string.
  const trimmed = url.replace(/^[\x00-\x20]+|[\x00-\x20]+$/g, '');
  if (!/^https?:/i.test(trimmed)) return undefined;
  return trimmed.replace(UNSAFE_IN_DESTINATION, percentEncode);
}

/**
 * Inline text that cannot open a link, an image, an autolink, HTML or a code
 * span: backslashes and brackets escaped, angle brackets as entities.
 */
export function inlineText(text: string): string {
  return text
    .replace(/[\\[\]`]/g, '\\$&')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}

/** A title or label: inline text with emphasis, headings, tables and strikethrough escaped too. */
export function escapeMarkdown(text: string): string {
  return inlineText(text).replace(/[*_#|~!()]/g, '\\$&');
}

/**
 * Text of several lines (an answer): inline text whose lines cannot start a
 * heading, a quote, a list or a thematic break that would read as this result's structure.
 */
export function blockText(text: string): string {
  return inlineText(text)
    .split('\n')
    .map((line) => line.replace(/^(\s*)([#>+\-*=]|\d+[.)])/, '$1\\$2'))
    .join('\n');
}

/** `[label](destination)` for http(s) URLs; escaped text, never a link, for anything else. */
export function markdownLink(label: string | undefined, url: string): string {
  const destination = linkDestination(url);
  const shownUrl = oneLine(url, 300);
  const text = escapeMarkdown(oneLine(label, 200) || shownUrl);
  if (destination !== undefined) return `[${text}](${destination})`;
  const named = text === escapeMarkdown(shownUrl) ? '' : ` ${escapeMarkdown(shownUrl)}`;
  return `${text}${named ? ` (${named.trim()}, not linked: not an http(s) URL)` : ' (not linked: not an http(s) URL)'}`;
}

/** A URL on its own (a map entry, a failed URL, an image): encoded if http(s), escaped text otherwise. */
export function bareUrl(url: string): string {
  return linkDestination(url) ?? `${escapeMarkdown(oneLine(url, 2_048))} (not an http(s) URL)`;
}

const FENCE_TAG = new RegExp(`<(\\s*/?\\s*${PAGE_CONTENT_TAG})`, 'gi');

/** Page text with every opening or closing fence tag it holds made inert (`&lt;/page-content>`). */
export function fencedText(content: string): string {
  return content.replace(FENCE_TAG, '&lt;$1');
}
