/**
 * Character-level checks on HTTP header text (latin1 strings), shared by the proxy's parsers and
 * header writers. They work on index ranges of a string, so a parser checks a line where it lies instead
 * of slicing, lower-casing or matching it with a regular expression first (profiles of the proxy showed
 * those copies and calls to be most of a head's cost). Pure.
 */

/** A lookup table: 1 for each ASCII character of `chars`. */
export function charTable(chars: string): Uint8Array {
  const table = new Uint8Array(128);
  for (let i = 0; i < chars.length; i++) table[chars.charCodeAt(i)] = 1;
  return table;
}

/** tchar (RFC 9110 5.6.2): the characters of a header name or method. */
export const TOKEN_CHARS = charTable(
  "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
);

/** Whether `text[from, to)` is made of characters of `table` only (and is not empty). */
export function allOf(table: Uint8Array, text: string, from: number, to: number): boolean {
  if (from >= to) return false;
  for (let i = from; i < to; i++) {
    const code = text.charCodeAt(i);
    if (code >= 128 || table[code] === 0) return false;
  }
  return true;
}

/** Whether `text[from, to)` holds a byte a header value or reason phrase may not: a control but HTAB, or DEL. */
export function hasControlByte(text: string, from = 0, to = text.length): boolean {
  for (let i = from; i < to; i++) {
    const code = text.charCodeAt(i);
    if ((code < 0x20 && code !== 0x09) || code === 0x7f) return true;
  }
  return false;
}

/** The value of 1 to 15 decimal digits (what `/^\d{1,15}$/` admits), or -1. */
export function decimal(text: string): number {
  if (text.length === 0 || text.length > 15) return -1;
  let value = 0;
  for (let i = 0; i < text.length; i++) {
    const digit = text.charCodeAt(i) - 0x30;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

export const isBlank = (code: number): boolean => code === 0x20 || code === 0x09;

/**
 * Whether `text[from, from + lower.length)` is `lower` in any case; `lower` is lower-case ASCII letters,
 * digits and `-` (a header name). No lower-cased copy is made.
 */
export function sameName(text: string, from: number, lower: string): boolean {
  if (from + lower.length > text.length) return false;
  for (let i = 0; i < lower.length; i++) {
    const code = text.charCodeAt(from + i);
    const want = lower.charCodeAt(i);
    // A letter matches its capital too (0x20 less); anything else only itself.
    if (code !== want && (want < 0x61 || want > 0x7a || code !== want - 0x20)) return false;
  }
  return true;
}

/** Whether header name `name` is `lower` in any case (see {@link sameName}). */
export const isNamed = (name: string, lower: string): boolean =>
  name.length === lower.length && sameName(name, 0, lower);

/**
 * Around a list's elements: SP, HTAB and, as `\s` in the regular expressions these functions replace,
 * NO-BREAK SPACE (the one other `\s` a header value without controls can hold).
 */
const isListBlank = (code: number): boolean => code === 0x20 || code === 0x09 || code === 0xa0;

/**
 * Whether the comma-separated list `value` (as `Connection` or `Transfer-Encoding`) has `option` as an
 * element, in any case, blanks around elements ignored: what `/(?:^|,)\s*option\s*(?:,|$)/i` tests.
 */
export function hasListOption(value: string, option: string): boolean {
  let at = 0;
  while (at <= value.length) {
    let end = value.indexOf(',', at);
    if (end === -1) end = value.length;
    let from = at;
    let to = end;
    while (from < to && isListBlank(value.charCodeAt(from))) from++;
    while (to > from && isListBlank(value.charCodeAt(to - 1))) to--;
    if (to - from === option.length && sameName(value, from, option)) return true;
    at = end + 1;
  }
  return false;
}

/** Whether the list `value` ends with the element `option` (as `chunked` must end `Transfer-Encoding`). */
export function endsWithListOption(value: string, option: string): boolean {
  let to = value.length;
  while (to > 0 && isListBlank(value.charCodeAt(to - 1))) to--;
  const from = to - option.length;
  if (from < 0 || !sameName(value, from, option)) return false;
  let before = from - 1;
  while (before >= 0 && isListBlank(value.charCodeAt(before))) before--;
  return before < 0 || value.charCodeAt(before) === 0x2c;
}

/**
 * A set of header names matched in any case without lower-casing the name looked up: the names are
 * grouped by length and compared with {@link sameName}. `match` gives the set's own (lower-case) spelling.
 */
export class NameSet {
  private readonly byLength: (string[] | undefined)[] = [];

  constructor(names: Iterable<string>) {
    for (const name of names) {
      const lower = name.toLowerCase();
      const bucket = this.byLength[lower.length] ?? [];
      if (!bucket.includes(lower)) bucket.push(lower);
      this.byLength[lower.length] = bucket;
    }
  }

  /** The set's lower-case spelling of `name`, or undefined if `name` is not in the set. */
  match(name: string): string | undefined {
    const bucket = this.byLength[name.length];
    if (bucket === undefined) return undefined;
    for (let i = 0; i < bucket.length; i++) {
      const lower = bucket[i] as string;
      if (sameName(name, 0, lower)) return lower;
    }
    return undefined;
  }

  has(name: string): boolean {
    return this.match(name) !== undefined;
  }

  /** The set's spelling of the name `text[from, to)`, or undefined (no slice of it is made). */
  matchAt(text: string, from: number, to: number): string | undefined {
    const bucket = this.byLength[to - from];
    if (bucket === undefined) return undefined;
    for (let i = 0; i < bucket.length; i++) {
      const lower = bucket[i] as string;
      if (sameName(text, from, lower)) return lower;
    }
    return undefined;
  }

  hasAt(text: string, from: number, to: number): boolean {
    return this.matchAt(text, from, to) !== undefined;
  }
}

/**
 * A message's header lines where they lie in its head: `lines` holds, per line, where it starts in `text`
 * and where its colon is. A line ends two bytes (CRLF) before the next one starts, the last at the end of
 * `text` (which stops before the blank line). The parser that made them checked every line (a token name,
 * a value without control bytes), so a writer may copy lines as they are.
 */
export interface HeadLines {
  readonly text: string;
  readonly lines: readonly number[];
}

/** The end of header line `k` (before its CRLF). */
export function lineEnd(head: HeadLines, k: number): number {
  const next = 2 * k + 2;
  return next < head.lines.length ? (head.lines[next] as number) - 2 : head.text.length;
}

/** The value of the line whose colon is at `colon` and which ends at `end`, without blanks around it. */
export function valueAt(text: string, colon: number, end: number): string {
  let from = colon + 1;
  let to = end;
  while (from < to && isBlank(text.charCodeAt(from))) from++;
  while (to > from && isBlank(text.charCodeAt(to - 1))) to--;
  return text.slice(from, to);
}

/** The lines as name/value pairs, values trimmed (as `IncomingMessage.rawHeaders`). */
export function pairsOf(head: HeadLines): string[] {
  const { text, lines } = head;
  const pairs: string[] = [];
  for (let k = 0; 2 * k < lines.length; k++) {
    const colon = lines[2 * k + 1] as number;
    pairs.push(text.slice(lines[2 * k] as number, colon), valueAt(text, colon, lineEnd(head, k)));
  }
  return pairs;
}

/** Name/value pairs (checked already, as Node's parser checks them) as lines. */
export function linesOf(pairs: readonly string[]): HeadLines {
  let text = '';
  const lines: number[] = [];
  for (let i = 0; i < pairs.length; i += 2) {
    if (i > 0) text += '\r\n';
    lines.push(text.length, text.length + (pairs[i] as string).length);
    text += `${pairs[i]}: ${pairs[i + 1]}`;
  }
  return { text, lines };
}

/** {@link scanHeaderLine}'s answers when a line is refused. */
export const BAD_NAME = -1;
export const BAD_VALUE = -2;

/**
 * Checks the header line at `at` of a head's `text` (which ends before its blank line) in one pass: a
 * token name, a colon, then a value of no control byte but HTAB (with `plain`, of visible ASCII, space and
 * tab only: no obs-text either), then CRLF or the end of `text`. On success pushes the line's start and
 * colon onto `lines` and answers where the line ends (before its CRLF); else {@link BAD_NAME} or
 * {@link BAD_VALUE}. A CR or LF alone is refused where it is: in the name as a bad name, in the value as a
 * bad value.
 */
export function scanHeaderLine(text: string, at: number, lines: number[], plain: boolean): number {
  const n = text.length;
  let i = at;
  let code = 0;
  for (; i < n; i++) {
    code = text.charCodeAt(i);
    if (code === 0x3a) break;
    if (code >= 128 || TOKEN_CHARS[code] === 0) return BAD_NAME;
  }
  if (i === at || i === n) return BAD_NAME;
  const colon = i;
  for (i++; i < n; i++) {
    code = text.charCodeAt(i);
    if (code === 0x0d) break;
    if ((code < 0x20 && code !== 0x09) || code === 0x7f || (plain && code > 0x7e)) return BAD_VALUE;
  }
  if (i < n && text.charCodeAt(i + 1) !== 0x0a) return BAD_VALUE;
  lines.push(at, colon);
  return i;
}
