/**
 * What a browser does on loopback, for the benchmarks: follows redirects and self-submitting forms,
 * keeps each host's cookies for that host only, and reaches `*.localhost` names (the per-user origins)
 * on 127.0.0.1 with the name in `Host`, as Chromium resolves them.
 */
import { type LoopbackAnswer, loopbackRequest } from '../../test/support/loopback-http.js';

/** The `<form method="post" ... data-autosubmit>` of a page (the start page), with its hidden fields. */
function autoSubmitForm(html: string, pageUrl: string): { action: string; body: string } | null {
  const form = /<form method="post" action="([^"]+)" data-autosubmit>([\s\S]*?)<\/form>/.exec(html);
  if (!form) return null;
  const entities: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" };
  const decode = (v: string) =>
    v.replace(/&(amp|lt|gt|quot|#39);/g, (_m, e: string) => entities[e] as string);
  const fields = new URLSearchParams();
  for (const input of (form[2] as string).matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    fields.set(input[1] as string, decode(input[2] as string));
  }
  return { action: new URL(decode(form[1] as string), pageUrl).href, body: fields.toString() };
}

export class LoopbackBrowser {
  /** Cookies by host name (a browser's host-only cookies: ports do not separate them). */
  private readonly jar = new Map<string, Map<string, string>>();

  /** The `Cookie` header this browser sends to `url`'s host. */
  cookieHeader(url: string): string {
    const cookies = this.jar.get(new URL(url).hostname) ?? new Map<string, string>();
    return [...cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  async request(
    url: string,
    init: { method?: string; headers?: Record<string, string>; body?: string } = {},
  ) {
    const cookie = this.cookieHeader(url);
    const answer = await loopbackRequest(url, {
      ...init,
      headers: { ...(cookie ? { cookie } : {}), ...init.headers },
    });
    const host = new URL(url).hostname;
    const cookies = this.jar.get(host) ?? new Map<string, string>();
    this.jar.set(host, cookies);
    for (const line of answer.headers['set-cookie'] ?? []) {
      const pair = line.split(';')[0] as string;
      const eq = pair.indexOf('=');
      if (/Max-Age=0/i.test(line)) cookies.delete(pair.slice(0, eq));
      else cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    return answer;
  }

  /** Follows redirects and self-submitting forms, up to `max` hops; the last answer and its URL. */
  async follow(
    url: string,
    init: { method?: string; headers?: Record<string, string>; body?: string } = {},
    max = 12,
  ): Promise<{ answer: LoopbackAnswer; url: string }> {
    const navigate = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };
    let at = url;
    let answer = await this.request(at, { ...init, headers: { ...navigate, ...init.headers } });
    for (let hop = 0; hop < max; hop++) {
      if (answer.status >= 300 && answer.status < 400 && answer.location) {
        at = answer.location;
        answer = await this.request(at, { headers: navigate });
        continue;
      }
      const form = String(answer.headers['content-type']).startsWith('text/html')
        ? autoSubmitForm(answer.body, at)
        : null;
      if (!form) break;
      const origin = new URL(at).origin;
      at = form.action;
      answer = await this.request(at, {
        method: 'POST',
        body: form.body,
        headers: { ...navigate, origin, 'content-type': 'application/x-www-form-urlencoded' },
      });
    }
    return { answer, url: at };
  }
}
