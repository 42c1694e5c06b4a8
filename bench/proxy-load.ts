/**
 * Load generators of the proxy benchmark: wrk for HTTP throughput and latency, and sequential
 * WebSocket round trips (one small message at a time) for per-message latency.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { WebSocket } from 'ws';
import { percentile } from './support/stats.js';

export interface WrkResult {
  requestsPerSec: number;
  /** Requests completed in the run. */
  requests: number;
  p50Ms: number;
  p99Ms: number;
  /** Non-2xx/3xx responses plus socket errors: must be 0 for the run to count. */
  errors: number;
}

function durationMs(value: string, unit: string): number {
  const n = Number(value);
  if (unit === 'us') return n / 1000;
  if (unit === 'ms') return n;
  if (unit === 's') return n * 1000;
  if (unit === 'm') return n * 60_000;
  throw new Error(`unknown wrk unit ${unit}`);
}

/** Parses `wrk --latency` output. */
export function parseWrk(output: string): WrkResult {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(output);
  const requests = /(\d+) requests in/.exec(output);
  const p50 = /^\s+50%\s+([\d.]+)(us|ms|s|m)\s*$/m.exec(output);
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$/m.exec(output);
  if (!rps || !requests || !p50 || !p99) throw new Error(`cannot read wrk output:\n${output}`);
  let errors = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(output)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  if (socket) errors += socket.slice(1).reduce((sum, n) => sum + Number(n), 0);
  return {
    requestsPerSec: Number(rps[1]),
    requests: Number(requests[1]),
    p50Ms: durationMs(p50[1] as string, p50[2] as string),
    p99Ms: durationMs(p99[1] as string, p99[2] as string),
    errors,
  };
}

export interface WrkOptions {
  url: string;
  headers: string[];
  connections: number;
  seconds: number;
}

export function wrkCommand(options: WrkOptions): string[] {
  const args = ['-t1', `-c${options.connections}`, `-d${options.seconds}s`, '--latency'];
  for (const header of options.headers) args.push('-H', header);
  return [...args, options.url];
}

export function runWrk(options: WrkOptions): Promise<WrkResult> {
  return new Promise((done, fail) => {
    const child = spawn('/usr/bin/wrk', wrkCommand(options), { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on('error', fail);
    child.on('exit', (code) => {
      if (code !== 0) fail(new Error(`wrk exited with ${code}:\n${output}`));
      else {
        try {
          done(parseWrk(output));
        } catch (error) {
          fail(error);
        }
      }
    });
  });
}

/** One GET; resolves with status and body. Used to check each path answers the backend's body. */
export function fetchOnce(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((done, fail) => {
    const req = http.get(url, { headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      res.on('end', () => done({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', fail);
  });
}

export interface RoundTrips {
  meanUs: number;
  p50Us: number;
  p99Us: number;
  n: number;
}

/** Opens a WebSocket (no compression, as Jupyter's); fails with the status if the upgrade is refused. */
export function openWebSocket(
  url: string,
  headers: Record<string, string>,
  origin: string | undefined,
  localAddress?: string,
): Promise<WebSocket> {
  const ws = new WebSocket(url, { headers, origin, perMessageDeflate: false, localAddress });
  return new Promise((done, fail) => {
    ws.once('open', () => done(ws));
    ws.once('error', fail);
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      res.on('end', () =>
        fail(new Error(`upgrade of ${url} refused: ${res.statusCode} ${body.slice(0, 300)}`)),
      );
    });
  });
}

/** One round trip of `message` on `ws`: sent, its echo received; in µs. */
export async function roundTrip(ws: WebSocket, message: string): Promise<number> {
  const start = performance.now();
  await new Promise<void>((done, fail) => {
    const closed = () => fail(new Error('WebSocket closed during the benchmark'));
    ws.once('message', () => {
      ws.off('close', closed);
      done();
    });
    ws.once('close', closed);
    ws.send(message);
  });
  return (performance.now() - start) * 1000;
}

/** Mean and percentiles of round-trip samples (µs). */
export function roundTripStats(samples: readonly number[]): RoundTrips {
  const meanUs = samples.reduce((sum, x) => sum + x, 0) / samples.length;
  return { meanUs, p50Us: percentile(samples, 50), p99Us: percentile(samples, 99), n: samples.length };
}

/** `warmup` then `n` sequential round trips of a 32-byte text message on one WebSocket. */
export async function wsRoundTrips(
  url: string,
  headers: Record<string, string>,
  origin: string | undefined,
  n: number,
  warmup: number,
): Promise<RoundTrips> {
  const ws = await openWebSocket(url, headers, origin);
  const message = 'x'.repeat(32);
  const samples: number[] = [];
  try {
    for (let i = 0; i < warmup + n; i++) {
      const us = await roundTrip(ws, message);
      if (i >= warmup) samples.push(us);
    }
  } finally {
    ws.terminate();
  }
  return roundTripStats(samples);
}
