#!/usr/bin/env node
/**
 * A stand-in for a web browser, for clients that "open the browser" to sign in
 * (MCP Inspector, mcp-remote): put its path in BROWSER and xdg-open runs it with
 * the authorization URL. It does what a user's browser does against the
 * embedded development authorization server, which consents by itself: GET the
 * URL, follow the redirects (keeping cookies), and finally load the client's own
 * loopback callback page, which hands the code to the client.
 *
 * Loopback only: it refuses to follow a redirect anywhere else. Each visit is
 * appended, one JSON line, to $BROWSER_STAND_IN_LOG when set (query strings kept,
 * so the log shows `iss`; codes are single-use and local).
 */
import { appendFileSync } from 'node:fs';

const MAX_HOPS = 10;
const log = (entry) => {
  if (process.env.BROWSER_STAND_IN_LOG) appendFileSync(process.env.BROWSER_STAND_IN_LOG, `${JSON.stringify(entry)}\n`);
};
const isLoopback = (url) => ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname) && (url.protocol === 'http:' || url.protocol === 'https:');

/**
 * One page load. A refused connection is retried for a few seconds, as a user
 * reloads a page that did not load: mcp-remote 0.15.1 can open the browser
 * before its callback server listens (seen here: the first load is refused).
 */
async function load(url, cookies) {
  const deadline = Date.now() + 5_000;
  for (;;) {
    try {
      return await fetch(url, {
        redirect: 'manual',
        headers: cookies.size ? { cookie: [...cookies].map(([name, value]) => `${name}=${value}`).join('; ') } : {},
        signal: AbortSignal.timeout(10_000),
      });
    } catch (error) {
      if (error?.cause?.code !== 'ECONNREFUSED' || Date.now() > deadline) throw error;
      log({ url: url.href, retry: 'connection refused' });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

async function visit(start) {
  const cookies = new Map();
  let url = new URL(start);
  for (let hop = 0; hop < MAX_HOPS; hop += 1) {
    if (!isLoopback(url)) throw new Error(`refusing to leave loopback: ${url.origin}`);
    const response = await load(url, cookies);
    for (const setCookie of response.headers.getSetCookie?.() ?? []) {
      const [pair] = setCookie.split(';');
      const at = pair.indexOf('=');
      if (at > 0) cookies.set(pair.slice(0, at).trim(), pair.slice(at + 1).trim());
    }
    const location = response.headers.get('location');
    log({ url: url.href, status: response.status, ...(location ? { location } : {}) });
    if (response.status >= 300 && response.status < 400 && location) {
      url = new URL(location, url);
      continue;
    }
    await response.arrayBuffer();
    if (response.status >= 400) throw new Error(`${url.origin}${url.pathname} answered ${response.status}`);
    return;
  }
  throw new Error('too many redirects');
}

const target = process.argv[2];
if (!target) {
  process.stderr.write('usage: browser-stand-in.mjs <url>\n');
  process.exit(2);
}
visit(target).then(
  () => process.exit(0),
  (error) => {
    log({ error: error.message });
    process.stderr.write(`browser stand-in: ${error.message}\n`);
    process.exit(1);
  },
);
