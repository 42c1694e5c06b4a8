/**
 * Jupyter writes its token into the pages it serves (`data-jupyter-api-token="..."`, `?token=` links) once
 * a request is token-authenticated, which every proxied request is. The secret must never reach a
 * browser, so HTML bodies pass through this: every occurrence is overwritten with `x`s of the same
 * length (the framing stays valid), across chunk boundaries too. The masked value is harmless: the proxy
 * replaces any Authorization header a page sends with the real one.
 */
const EMPTY = Buffer.alloc(0);
const MASK = 'x'.charCodeAt(0);

export class SecretScrubber {
  private held: Buffer = EMPTY;
  private readonly secret: Buffer;

  constructor(secret: string) {
    this.secret = Buffer.from(secret, 'latin1');
  }

  /**
   * The bytes of `chunk` that may be sent now, masked. Up to `secret.length - 1` trailing bytes are held
   * back (they may begin an occurrence) until the next chunk, or given back with `last`.
   */
  push(chunk: Buffer, last: boolean): Buffer {
    let data = this.held.length > 0 ? Buffer.concat([this.held, chunk]) : chunk;
    let at = data.indexOf(this.secret);
    if (at !== -1) {
      // A copy: the input may be a view of the socket's buffer.
      data = Buffer.from(data);
      while (at !== -1) {
        data.fill(MASK, at, at + this.secret.length);
        at = data.indexOf(this.secret, at + this.secret.length);
      }
    }
    if (last) {
      this.held = EMPTY;
      return data;
    }
    const keep = Math.min(this.secret.length - 1, data.length);
    this.held = Buffer.from(data.subarray(data.length - keep));
    return data.subarray(0, data.length - keep);
  }
}
