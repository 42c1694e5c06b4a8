const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c] as string);
}

/** A tagged template that escapes every interpolated value unless it is already `Html`. */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0] as string;
  values.forEach((value, i) => {
    const text = Array.isArray(value)
      ? value.map((v) => (v instanceof Html ? v.value : escapeHtml(v))).join('')
      : value instanceof Html
        ? value.value
        : value === undefined || value === null || value === false
          ? ''
          : escapeHtml(value);
    out += text + (strings[i + 1] as string);
  });
  return new Html(out);
}

const STYLE = `
:root{color-scheme:light dark;font-family:system-ui,sans-serif;line-height:1.5}
body{max-width:40rem;margin:3rem auto;padding:0 1rem}
header{display:flex;justify-content:space-between;align-items:baseline;border-bottom:1px solid #8884;margin-bottom:1.5rem}
h1{font-size:1.5rem}label{display:block;margin:.5rem 0 .25rem}
input[type=text]{font-size:1rem;padding:.4rem;width:100%;box-sizing:border-box}
button,.button{font-size:1rem;padding:.45rem 1rem;margin-top:.75rem;cursor:pointer}
progress{width:100%;height:1.2rem}.error{border-left:4px solid #c33;padding:.25rem .75rem}
.muted{opacity:.75;font-size:.9rem}code{font-size:.9em}
`;

/** The page shell: plain HTML, no external assets, readable without JavaScript. */
export function page(title: string, body: Html, options: { user?: string | null; head?: Html } = {}): string {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${title} · Sifu</title><style>${new Html(STYLE)}</style>${options.head ?? ''}</head>
<body><header><strong>Sifu</strong>${
    options.user
      ? html`<form method="post" action="/hub/logout"><span class="muted">${options.user}</span>
<button type="submit">Sign out</button></form>`
      : ''
  }</header><main>${body}</main></body></html>`.value;
}

export function errorPage(status: number, code: string, message: string, user?: string | null): string {
  return page(
    'Error',
    html`<h1>Something went wrong</h1><p class="error" role="alert">${message}</p>
<p class="muted">Error ${status} · <code>${code}</code></p><p><a href="/hub/home">Back to your home page</a></p>`,
    { user },
  );
}
