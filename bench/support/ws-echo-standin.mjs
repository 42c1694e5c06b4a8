/**
 * The learner's server of the WebSocket benchmark as shipped: run by the `local` backend in its sandbox
 * (`node ws-echo-standin.mjs <socket> <body>`), so it may use nothing outside /usr: no `ws` package. It
 * answers any GET with `<body>` (Sifu's readiness check, the sign-in's last hop) and echoes every
 * WebSocket frame back unmasked, as a server must send it. Frames are small and unfragmented here;
 * a close frame is echoed and ends the connection.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';

const [socketPath, body] = process.argv.slice(2);
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** The frame at the start of `buffer`: its header and unmasked payload, or null if not all there. */
function nextFrame(buffer) {
  if (buffer.length < 2) return null;
  const masked = (buffer[1] & 0x80) !== 0;
  let length = buffer[1] & 0x7f;
  let at = 2;
  if (length === 126) {
    if (buffer.length < 4) return null;
    length = buffer.readUInt16BE(2);
    at = 4;
  } else if (length === 127) {
    if (buffer.length < 10) return null;
    length = Number(buffer.readBigUInt64BE(2));
    at = 10;
  }
  const mask = masked ? buffer.subarray(at, at + 4) : null;
  if (masked) at += 4;
  if (buffer.length < at + length) return null;
  const payload = Buffer.from(buffer.subarray(at, at + length));
  if (mask) for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
  return { first: buffer[0], payload, size: at + length };
}

function frameHead(first, length) {
  if (length < 126) return Buffer.from([first, length]);
  if (length < 65536) {
    const head = Buffer.from([first, 126, 0, 0]);
    head.writeUInt16BE(length, 2);
    return head;
  }
  const head = Buffer.alloc(10);
  head[0] = first;
  head[1] = 127;
  head.writeBigUInt64BE(BigInt(length), 2);
  return head;
}

const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end(body);
});
server.on('upgrade', (req, socket) => {
  const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}${GUID}`).digest('base64');
  socket.write(
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
  );
  socket.setNoDelay(true);
  let pending = Buffer.alloc(0);
  socket.on('data', (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    for (let frame = nextFrame(pending); frame !== null; frame = nextFrame(pending)) {
      pending = pending.subarray(frame.size);
      socket.write(Buffer.concat([frameHead(frame.first, frame.payload.length), frame.payload]));
      if ((frame.first & 0x0f) === 0x8) socket.end();
    }
  });
  socket.on('error', () => socket.destroy());
});
server.listen(socketPath);
process.on('SIGTERM', () => process.exit(0));
