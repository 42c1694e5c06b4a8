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

/** Whether `bytes[from, to)` is made of characters of `table` only (and is not empty). */
export function allOf(table: Uint8Array, bytes: Uint8Array, from: number, to: number): boolean {
  if (from >= to) return false;
  for (let i = from; i < to; i++) {
    const code = bytes[i] as number;
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
 * Header names the proxy acts on, or that browsers, Jupyter and its clients send often. The parsers find
 * each line's name here once, from the received bytes, and record its code (its index; 0 for any other
 * name) beside the line, so that later steps (the policies, the upstream head) compare numbers instead of
 * matching the name's text again.
 */
export const KNOWN_NAMES: readonly string[] = [
  '',
  'host',
  'cookie',
  'connection',
  'content-length',
  'content-type',
  'transfer-encoding',
  'user-agent',
  'accept',
  'accept-encoding',
  'accept-language',
  'origin',
  'referer',
  'authorization',
  'x-xsrftoken',
  'x-requested-with',
  'cache-control',
  'pragma',
  'if-none-match',
  'if-modified-since',
  'dnt',
  'sec-fetch-site',
  'sec-fetch-mode',
  'sec-fetch-dest',
  'sec-fetch-user',
  'sec-ch-ua',
  'sec-ch-ua-mobile',
  'sec-ch-ua-platform',
  'upgrade-insecure-requests',
  'priority',
  'expect',
  'upgrade',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'proxy-authenticate',
  'te',
  'trailer',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-forwarded-for',
  'x-sifu-relay-key',
  'date',
  'server',
  'set-cookie',
  'etag',
  'last-modified',
  'content-encoding',
  'vary',
  'location',
  'content-security-policy',
  'x-frame-options',
  'x-content-type-options',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-extensions',
  'sec-websocket-protocol',
  'sec-websocket-accept',
];

/** The code of the lower-case name `lower`, which must be one of {@link KNOWN_NAMES}. */
export function codeOf(lower: string): number {
  const code = KNOWN_NAMES.indexOf(lower);
  if (code < 1) throw new Error(`${lower} is not one of the known header names`);
  return code;
}

/** The known names' bytes one after another, and where each starts: compared with received bytes. */
const NAME_BYTES = Buffer.from(KNOWN_NAMES.join(''), 'latin1');
const NAME_STARTS = KNOWN_NAMES.map((_, code) => KNOWN_NAMES.slice(0, code).join('').length);
/** The codes of the known names, by the names' length. */
const CODES_BY_LENGTH: number[][] = [];
for (let code = 1; code < KNOWN_NAMES.length; code++) {
  const length = (KNOWN_NAMES[code] as string).length;
  const codes = CODES_BY_LENGTH[length] ?? [];
  codes.push(code);
  CODES_BY_LENGTH[length] = codes;
}

/**
 * The code of the header name `bytes[from, to)`, in any case, or 0. The name must be a token already
 * (as {@link scanHeaderLine} checked it): then setting the 0x20 bit of a byte maps a capital to its
 * letter and leaves every other token character that a known name holds (digits, `-`) as it is.
 */
export function nameCodeAt(bytes: Uint8Array, from: number, to: number): number {
  const codes = CODES_BY_LENGTH[to - from];
  if (codes === undefined) return 0;
  for (let c = 0; c < codes.length; c++) {
    const code = codes[c] as number;
    let at = NAME_STARTS[code] as number;
    let i = from;
    while (i < to && ((bytes[i] as number) | 0x20) === NAME_BYTES[at]) {
      i++;
      at++;
    }
    if (i === to) return code;
  }
  return 0;
}

/** {@link nameCodeAt} for a name in a string (pairs from Node's parser, which checked it as a token). */
export function nameCodeIn(text: string, from: number, to: number): number {
  const codes = CODES_BY_LENGTH[to - from];
  if (codes === undefined) return 0;
  for (let c = 0; c < codes.length; c++) {
    const code = codes[c] as number;
    if (sameName(text, from, KNOWN_NAMES[code] as string)) return code;
  }
  return 0;
}

/**
 * A set of header names matched in any case without lower-casing the name looked up: the names are
 * grouped by length and compared with {@link sameName}. `match` gives the set's own (lower-case) spelling.
 * A line of a {@link HeadLines} is looked up by its name's code ({@link hasLine}).
 */
export class NameSet {
  private readonly byLength: (string[] | undefined)[] = [];
  /** 1 at the code of each of the set's names that is known. */
  private readonly codes = new Uint8Array(KNOWN_NAMES.length);
  /** Whether every name of the set is known: then a line of code 0 is not in it. */
  private readonly allKnown: boolean;

  constructor(names: Iterable<string>) {
    let allKnown = true;
    for (const name of names) {
      const lower = name.toLowerCase();
      const bucket = this.byLength[lower.length] ?? [];
      if (!bucket.includes(lower)) bucket.push(lower);
      this.byLength[lower.length] = bucket;
      const code = KNOWN_NAMES.indexOf(lower);
      if (code < 1) allKnown = false;
      else this.codes[code] = 1;
    }
    this.allKnown = allKnown;
  }

  /** The set's lower-case spelling of `name`, or undefined if `name` is not in the set. */
  match(name: string): string | undefined {
    return this.matchAt(name, 0, name.length);
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

  /** Whether the name of line `k` of `head` is in the set. */
  hasLine(head: HeadLines, k: number): boolean {
    const code = head.lines[LINE * k + 2] as number;
    if (code !== 0) return this.codes[code] === 1;
    if (this.allKnown) return false;
    const start = head.lines[LINE * k] as number;
    return this.matchAt(head.text, start, head.lines[LINE * k + 1] as number) !== undefined;
  }
}

/** Numbers per line in {@link HeadLines.lines}. */
export const LINE = 3;

/**
 * A message's header lines where they lie in its head: `lines` holds, per line ({@link LINE} numbers),
 * where it starts in `text`, where its colon is, and the code of its name ({@link KNOWN_NAMES}, 0 for
 * another). A line ends two bytes (CRLF) before the next one starts, the last at the end of `text` (which
 * stops before the blank line). The parser that made them checked every line (a token name, a value
 * without control bytes), so a writer may copy lines as they are.
 */
export interface HeadLines {
  readonly text: string;
  readonly lines: readonly number[];
}

/** The end of header line `k` (before its CRLF). */
export function lineEnd(head: HeadLines, k: number): number {
  const next = LINE * (k + 1);
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
  for (let k = 0; LINE * k < lines.length; k++) {
    const colon = lines[LINE * k + 1] as number;
    pairs.push(text.slice(lines[LINE * k] as number, colon), valueAt(text, colon, lineEnd(head, k)));
  }
  return pairs;
}

/** Name/value pairs (checked already, as Node's parser checks them) as lines. */
export function linesOf(pairs: readonly string[]): HeadLines {
  let text = '';
  const lines: number[] = [];
  for (let i = 0; i < pairs.length; i += 2) {
    if (i > 0) text += '\r\n';
    const name = pairs[i] as string;
    lines.push(text.length, text.length + name.length, nameCodeIn(name, 0, name.length));
    text += `${name}: ${pairs[i + 1]}`;
  }
  return { text, lines };
}

/** {@link scanHeaderLine}'s answers when a line is refused. */
export const BAD_NAME = -1;
export const BAD_VALUE = -2;

/** Byte classes for {@link scanHeaderLine}: a tchar; VCHAR, SP or HTAB; obs-text. */
const TOKEN = 1;
const VISIBLE = 2;
const OBS_TEXT = 4;
const BYTE_CLASS = Uint8Array.from(
  { length: 256 },
  (_, c) =>
    (c < 128 && TOKEN_CHARS[c] === 1 ? TOKEN : 0) |
    ((c >= 0x20 && c < 0x7f) || c === 0x09 ? VISIBLE : 0) |
    (c >= 0x80 ? OBS_TEXT : 0),
);

/**
 * Checks the header line at `at` of a head's text in one pass, on the bytes the text was decoded from
 * (latin1: byte i of the text is `bytes[base + i]`; the text ends at `end`, before its blank line): a
 * token name, a colon, then a value of no control byte but HTAB (with `plain`, of visible ASCII, space and
 * tab only: no obs-text either), then CRLF or the end. On success pushes the line's start, colon and name
 * code ({@link HeadLines}) onto `lines` and answers where the line ends (before its CRLF); else
 * {@link BAD_NAME} or {@link BAD_VALUE}. A CR or LF alone is refused where it is: in the name as a bad
 * name, in the value as a bad value. Bytes rather than the string: a byte of a Buffer is read in about
 * half the time of a string's character (bench/RESULTS.md).
 */
export function scanHeaderLine(
  bytes: Uint8Array,
  base: number,
  at: number,
  end: number,
  lines: number[],
  plain: boolean,
): number {
  const from = base + at;
  const to = base + end;
  let i = from;
  while (i < to && ((BYTE_CLASS[bytes[i] as number] as number) & TOKEN) !== 0) i++;
  if (i === from || i === to || bytes[i] !== 0x3a) return BAD_NAME;
  const colon = i;
  const allowed = plain ? VISIBLE : VISIBLE | OBS_TEXT;
  i++;
  while (i < to && ((BYTE_CLASS[bytes[i] as number] as number) & allowed) !== 0) i++;
  if (i < to && (bytes[i] !== 0x0d || i + 1 >= to || bytes[i + 1] !== 0x0a)) return BAD_VALUE;
  lines.push(at, colon - base, nameCodeAt(bytes, from, colon));
  return i - base;
}
