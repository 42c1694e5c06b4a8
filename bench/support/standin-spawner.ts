/**
 * The stand-in backend of the several-hosts benchmark (`backend: 'standin'`): a Spawner whose servers
 * are sockets of the one stand-in process (`standin-servers.ts`), reached over its control socket. It
 * lives in the bench, not in src/: it launches nothing, so a start costs what Sifu itself spends on it.
 * Each host lists only the servers it opened, as the local backend lists only its own host's.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import { join } from 'node:path';
import type { PollResult, Spawner, Started, StartRequest } from '../../src/spawner/spawner.js';
import type { StandinRequest, StandinServer } from './standin-servers.js';

type Answer = Record<string, unknown> & { id: number; error?: string };
/** A request without its id: distributes over the union, so each op keeps its own fields. */
type Unnumbered<T> = T extends unknown ? Omit<T, 'id'> : never;

/** One connection to the stand-in process's control socket; requests may overlap. */
export class StandinControl {
  private next = 0;
  private readonly waiting = new Map<number, (answer: Answer) => void>();
  private buffered = '';

  private constructor(private readonly connection: net.Socket) {
    connection.setEncoding('utf8');
    connection.on('data', (chunk: string) => {
      this.buffered += chunk;
      let newline = this.buffered.indexOf('\n');
      while (newline !== -1) {
        const answer = JSON.parse(this.buffered.slice(0, newline)) as Answer;
        this.buffered = this.buffered.slice(newline + 1);
        newline = this.buffered.indexOf('\n');
        this.waiting.get(answer.id)?.(answer);
        this.waiting.delete(answer.id);
      }
    });
    connection.on('close', () => {
      for (const done of this.waiting.values()) done({ id: -1, error: 'the stand-in process went away' });
      this.waiting.clear();
    });
  }

  static connect(path: string): Promise<StandinControl> {
    return new Promise((resolve, reject) => {
      const connection = net.connect({ path }, () => resolve(new StandinControl(connection)));
      connection.once('error', reject);
    });
  }

  async call(request: Unnumbered<StandinRequest>): Promise<Answer> {
    if (this.connection.destroyed) throw new Error('the stand-in control connection is closed');
    this.next += 1;
    const id = this.next;
    const answer = await new Promise<Answer>((resolve) => {
      this.waiting.set(id, resolve);
      this.connection.write(`${JSON.stringify({ ...request, id })}\n`);
    });
    if (answer.error) throw new Error(`stand-in: ${answer.error}`);
    return answer;
  }

  close(): void {
    this.connection.destroy();
  }
}

function standinIdOf(state: Record<string, unknown>): string {
  if (typeof state.standinId !== 'string') throw new Error('not a stand-in server state');
  return state.standinId;
}

/** The stand-in backend for one host: starts open a socket in the stand-in process. */
export class StandinSpawner implements Spawner {
  readonly backend = 'standin';

  constructor(
    private readonly control: StandinControl,
    private readonly hostId: string,
  ) {}

  async start(request: StartRequest): Promise<Started> {
    const answer = await this.control.call({
      op: 'open',
      host: this.hostId,
      user: request.userName,
      server: request.serverName,
      secret: request.secret,
      base: request.baseUrl,
    });
    const server = answer.server as StandinServer;
    return {
      url: `unix:${server.socket}`,
      state: { standinId: server.standinId, socket: server.socket, host: server.host },
    };
  }

  async poll(state: Record<string, unknown>): Promise<PollResult> {
    const answer = await this.control.call({ op: 'alive', standinId: standinIdOf(state) });
    return answer.alive ? { status: 'running' } : { status: 'stopped', reason: 'its socket was closed' };
  }

  async stop(state: Record<string, unknown>): Promise<void> {
    await this.control.call({ op: 'close', standinId: standinIdOf(state) });
  }

  async list(): Promise<Array<{ userName: string; serverName: string; state: Record<string, unknown> }>> {
    const answer = await this.control.call({ op: 'list', host: this.hostId });
    return (answer.servers as StandinServer[]).map((s) => ({
      userName: s.user,
      serverName: s.server,
      state: { standinId: s.standinId, socket: s.socket, host: s.host },
    }));
  }
}

/** The stand-in process, started by the bench; `stop` ends it (every stand-in server with it). */
export interface StandinProcess {
  control: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export async function startStandinProcess(dir: string): Promise<StandinProcess> {
  const control = join(dir, 'control.sock');
  const script = join(import.meta.dirname, 'standin-servers.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', script, control, dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      if (out.includes('ready\n')) resolve();
    });
    child.once('exit', (code) =>
      reject(new Error(`the stand-in process exited (${code}) before it was ready`)),
    );
  });
  return {
    control,
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
