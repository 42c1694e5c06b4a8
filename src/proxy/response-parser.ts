/**
 * An incremental HTTP/1.x response parser for the proxy's own upstream connections. Node's
 * ClientRequest costs about half the proxy's time per request (measured: bench/RESULTS.md), so the
 * upstream side is hand-written: this parser finds the head, the framing (Content-Length, chunked,
 * until close, none) and hands the body on as slices of the received buffers, never copying it.
 *
 * One parser per connection, `reset` before each exchange. Pure: no I/O, table-tested with every
 * split point of the input.
 */

import {
  BAD_VALUE,
  codeOf,
  decimal,
  endsWithListOption,
  type HeadLines,
  hasControlByte,
  hasListOption,
  pairsOf,
  scanHeaderLine,
  valueAt,
} from './header-text.js';

export type Framing = 'none' | 'length' | 'chunked' | 'close';

export interface ResponseHead extends HeadLines {
  status: number;
  reason: string;
  /**
   * Raw header name/value pairs as received (values trimmed), like `IncomingMessage.rawHeaders`. Made
   * when first asked for: the raw server's writer copies kept lines from `text` instead (see `lines`).
   */
  readonly headers: string[];
  framing: Framing;
  /** Whether the connection may carry another exchange after this response. */
  keepAlive: boolean;
  contentType: string | undefined;
  /** The head as received (latin1), status line first, without the blank line; `lines` its header lines. */
  readonly text: string;
  /** Whether the server sent a `Date`. */
  date: boolean;
}

/** A parsed head; its name/value pairs are sliced from the text only if asked for. */
class ParsedHead implements ResponseHead {
  private pairs: string[] | undefined;

  constructor(
    readonly status: number,
    readonly reason: string,
    readonly framing: Framing,
    readonly keepAlive: boolean,
    readonly contentType: string | undefined,
    readonly text: string,
    readonly lines: number[],
    readonly date: boolean,
  ) {}

  get headers(): string[] {
    this.pairs ??= pairsOf(this);
    return this.pairs;
  }
}

export interface ResponseHandler {
  /** The final head (1xx other than 101 are skipped). */
  onResponseHead(head: ResponseHead): void;
  /**
   * A piece of the decoded body: a view into the received buffer. `last` when it completes a
   * Content-Length body (so the handler may end its response with it); `onResponseEnd` follows anyway.
   */
  onResponseBody(chunk: Buffer, last: boolean): void;
  onResponseEnd(): void;
}

export type FeedResult = 'more' | 'done' | 'upgrade' | 'error';

const HEAD = 0;
const LENGTH = 1;
const CHUNK_SIZE = 2;
const CHUNK_DATA = 3;
const CHUNK_DATA_END = 4;
const TRAILERS = 5;
const CLOSE = 6;
const DONE = 7;
const UPGRADED = 8;
const ERROR = 9;

/** The codes of the names the framing reads. */
const DATE = codeOf('date');
const CONNECTION = codeOf('connection');
const CONTENT_TYPE = codeOf('content-type');
const CONTENT_LENGTH = codeOf('content-length');
const TRANSFER_ENCODING = codeOf('transfer-encoding');

const MAX_HEAD_BYTES = 64 * 1024;
const MAX_LINE = 4096;

/**
 * The status of `HTTP/1.x NNN[ reason]` (the line is `text[0, end)`), or -1 if the line is not one:
 * three digits, 100 or more, then the end or a space.
 */
function statusCode(text: string, end: number): number {
  if (end < 12 || !text.startsWith('HTTP/1.') || text.charCodeAt(8) !== 0x20) return -1;
  if (end > 12 && text.charCodeAt(12) !== 0x20) return -1;
  let status = 0;
  for (let i = 9; i < 12; i++) {
    const digit = text.charCodeAt(i) - 0x30;
    if (digit < 0 || digit > 9) return -1;
    status = status * 10 + digit;
  }
  return status < 100 ? -1 : status;
}

export class ResponseParser {
  private state: number = HEAD;
  private noBody = false;
  private partial: Buffer | undefined;
  private line = '';
  private remaining = 0;
  /** Why the input was refused, for the log. */
  error: string | undefined;
  /** Bytes received after the end of the message: the first WebSocket bytes after a 101. */
  leftover: Buffer | undefined;

  /** Prepares for the response to a new request; `noBody` for HEAD requests. */
  reset(noBody: boolean): void {
    this.state = HEAD;
    this.noBody = noBody;
    this.partial = undefined;
    this.line = '';
    this.remaining = 0;
    this.error = undefined;
    this.leftover = undefined;
  }

  /** Stops parsing (the handler gave up on this exchange); further input is refused. */
  abort(reason: string): void {
    if (this.state !== ERROR) this.fail(reason);
  }

  /** True once a head has been handed on. */
  get headSeen(): boolean {
    return this.state !== HEAD && this.state !== ERROR;
  }

  feed(input: Buffer, handler: ResponseHandler): FeedResult {
    let data = input;
    let offset = 0;
    while (offset < data.length) {
      switch (this.state) {
        case HEAD: {
          let searchFrom = offset;
          if (this.partial !== undefined) {
            searchFrom = Math.max(0, this.partial.length - 3);
            data = Buffer.concat([this.partial, data.subarray(offset)]);
            offset = 0;
            this.partial = undefined;
          }
          const end = data.indexOf('\r\n\r\n', searchFrom, 'latin1');
          if (end === -1) {
            if (data.length - offset > MAX_HEAD_BYTES) return this.fail('response head too large');
            this.partial = data.subarray(offset);
            return 'more';
          }
          if (end - offset > MAX_HEAD_BYTES) return this.fail('response head too large');
          const text = data.toString('latin1', offset, end);
          this.parseHead(data, offset, text, handler);
          offset = end + 4;
          if ((this.state as number) === UPGRADED) {
            if (offset < data.length) this.leftover = data.subarray(offset);
            return 'upgrade';
          }
          break;
        }
        case LENGTH: {
          const take = Math.min(this.remaining, data.length - offset);
          const chunk = data.subarray(offset, offset + take);
          offset += take;
          this.remaining -= take;
          if (this.remaining === 0) this.state = DONE;
          handler.onResponseBody(chunk, this.state === DONE);
          if (this.state === DONE) handler.onResponseEnd();
          break;
        }
        case CHUNK_SIZE: {
          const next = this.readLine(data, offset);
          if (next === -1) return this.error === undefined ? 'more' : 'error';
          offset = next;
          const semicolon = this.line.indexOf(';');
          const hex = (semicolon === -1 ? this.line : this.line.slice(0, semicolon)).trim();
          this.line = '';
          if (!/^[0-9a-fA-F]{1,12}$/.test(hex)) return this.fail('bad chunk size');
          this.remaining = Number.parseInt(hex, 16);
          this.state = this.remaining === 0 ? TRAILERS : CHUNK_DATA;
          break;
        }
        case CHUNK_DATA: {
          const take = Math.min(this.remaining, data.length - offset);
          const chunk = data.subarray(offset, offset + take);
          offset += take;
          this.remaining -= take;
          if (this.remaining === 0) this.state = CHUNK_DATA_END;
          handler.onResponseBody(chunk, false);
          break;
        }
        case CHUNK_DATA_END: {
          const next = this.readLine(data, offset);
          if (next === -1) return this.error === undefined ? 'more' : 'error';
          offset = next;
          if (this.line !== '') return this.fail('chunk data longer than its size');
          this.state = CHUNK_SIZE;
          break;
        }
        case TRAILERS: {
          const next = this.readLine(data, offset);
          if (next === -1) return this.error === undefined ? 'more' : 'error';
          offset = next;
          // Trailers are dropped: the client's response is already under way without them.
          if (this.line === '') {
            this.state = DONE;
            handler.onResponseEnd();
          }
          this.line = '';
          break;
        }
        case CLOSE:
          handler.onResponseBody(offset === 0 ? data : data.subarray(offset), false);
          offset = data.length;
          break;
        case DONE:
          this.leftover = data.subarray(offset);
          return 'done';
        default:
          return 'error';
      }
    }
    if (this.state === DONE) return 'done';
    if (this.state === ERROR) return 'error';
    return this.state === UPGRADED ? 'upgrade' : 'more';
  }

  /** The upstream closed its side: completes a close-delimited body. True if the message is complete. */
  finish(handler: ResponseHandler): boolean {
    if (this.state === CLOSE) {
      this.state = DONE;
      handler.onResponseEnd();
    }
    return this.state === DONE || this.state === UPGRADED;
  }

  /** Reads up to LF into `this.line` (without CRLF); the offset after it, or -1 if more is needed. */
  private readLine(data: Buffer, offset: number): number {
    const lf = data.indexOf(10, offset);
    const end = lf === -1 ? data.length : lf;
    this.line += data.toString('latin1', offset, end);
    if (this.line.length > MAX_LINE) {
      this.fail('line too long');
      return -1;
    }
    if (lf === -1) return -1;
    if (!this.line.endsWith('\r')) {
      this.fail('bare LF');
      return -1;
    }
    this.line = this.line.slice(0, -1);
    return lf + 1;
  }

  /** The head `text`, decoded from `bytes` where it starts at `base`. */
  private parseHead(bytes: Uint8Array, base: number, text: string, handler: ResponseHandler): void {
    // Read where it lies: lines by index, names and values checked in place, each sliced once.
    const firstEnd = text.indexOf('\r\n');
    const statusEnd = firstEnd === -1 ? text.length : firstEnd;
    const status = statusCode(text, statusEnd);
    if (status === -1) {
      this.fail('bad status line');
      return;
    }
    const http10 = text.charCodeAt(7) === 0x30;
    const lines: number[] = [];
    let contentLength: string | undefined;
    let transferEncoding: string | undefined;
    let connection: string | undefined;
    let contentType: string | undefined;
    let date = false;
    let at = statusEnd + 2;
    while (firstEnd !== -1 && at < text.length) {
      const lineEnd = scanHeaderLine(bytes, base, at, text.length, lines, false);
      // A CR, LF or other control byte in a value would be written on to the client as is: refused,
      // so no server can split a header (a bare LF that smuggles a Set-Cookie past the filter).
      if (lineEnd === BAD_VALUE) {
        this.fail('control character in a header value');
        return;
      }
      if (lineEnd < 0) {
        this.fail('bad header line');
        return;
      }
      const colon = lines[lines.length - 2] as number;
      // Only the values the framing needs are sliced; the others stay where they are in `text`.
      switch (lines[lines.length - 1]) {
        case DATE:
          date = true;
          break;
        case CONNECTION: {
          const value = valueAt(text, colon, lineEnd);
          connection = connection === undefined ? value : `${connection}, ${value}`;
          break;
        }
        case CONTENT_TYPE:
          contentType = valueAt(text, colon, lineEnd);
          break;
        case CONTENT_LENGTH: {
          const value = valueAt(text, colon, lineEnd);
          if (contentLength !== undefined && contentLength !== value) {
            this.fail('conflicting content-length');
            return;
          }
          contentLength = value;
          break;
        }
        case TRANSFER_ENCODING: {
          const value = valueAt(text, colon, lineEnd);
          transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
          break;
        }
      }
      at = lineEnd + 2;
    }
    if (hasControlByte(text, 0, statusEnd)) {
      this.fail('control character in the status line');
      return;
    }
    if (status < 200 && status !== 101) return; // 100 Continue, 103 Early Hints: the final head follows.
    if (transferEncoding !== undefined && contentLength !== undefined) {
      // RFC 9112 6.3: a sign of smuggling or splitting; relaying it would let the client and Sifu
      // disagree on where the body ends.
      this.fail('both transfer-encoding and content-length');
      return;
    }
    const closeAsked = connection !== undefined && hasListOption(connection, 'close');
    const keepAliveAsked = connection !== undefined && hasListOption(connection, 'keep-alive');
    let framing: Framing;
    if (status === 101) {
      framing = 'none';
      this.state = UPGRADED;
    } else if (this.noBody || status === 204 || status === 304) {
      framing = 'none';
      this.state = DONE;
    } else if (transferEncoding !== undefined) {
      framing = endsWithListOption(transferEncoding, 'chunked') ? 'chunked' : 'close';
      this.state = framing === 'chunked' ? CHUNK_SIZE : CLOSE;
    } else if (contentLength !== undefined) {
      const length = decimal(contentLength);
      if (length === -1) {
        this.fail('bad content-length');
        return;
      }
      this.remaining = length;
      framing = 'length';
      this.state = this.remaining === 0 ? DONE : LENGTH;
    } else {
      framing = 'close';
      this.state = CLOSE;
    }
    const keepAlive = framing !== 'close' && (http10 ? keepAliveAsked : !closeAsked);
    const reason = statusEnd > 13 ? text.slice(13, statusEnd) : '';
    handler.onResponseHead(
      new ParsedHead(status, reason, framing, keepAlive, contentType, text, lines, date),
    );
    if (this.state === DONE) handler.onResponseEnd();
  }

  private fail(reason: string): 'error' {
    this.state = ERROR;
    this.error = reason;
    return 'error';
  }
}
