/**
 * `/hub/metrics` for the whole process group when `sifu serve` runs workers (node:cluster): the worker
 * asked for it asks the supervisor, which gathers every worker's registry (prom-client's
 * `AggregatorRegistry`, over the cluster's IPC channel) and answers with the aggregate. Alone, a process
 * answers with its own registry.
 */
import cluster from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import { registry } from './metrics.js';

const ASK = 'sifu:metrics-ask';
const ANSWER = 'sifu:metrics-answer';
/** prom-client gives up on a worker after 5 s; the asking worker waits a little longer than that. */
const ANSWER_TIMEOUT_MS = 6_000;

interface Answer {
  type: typeof ANSWER;
  id: number;
  text?: string;
  error?: string;
}

let nextId = 0;
const waiting = new Map<number, (answer: Answer) => void>();
let listening = false;

/** In a worker: answers the supervisor's gathering with this registry (prom-client's listener). */
function joinGathering(): void {
  if (listening) return;
  listening = true;
  // Constructing it installs prom-client's worker-side listener; this registry is what it reports.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
  process.on('message', (message: Answer) => {
    if (message?.type !== ANSWER) return;
    waiting.get(message.id)?.(message);
    waiting.delete(message.id);
  });
}

/** The exposition text for the whole process group (this process alone when it is no worker). */
export async function metricsText(): Promise<string> {
  if (!cluster.isWorker || !process.send) return registry.metrics();
  joinGathering();
  const id = nextId++;
  const answer = await new Promise<Answer>((resolve, reject) => {
    const timer = setTimeout(() => {
      waiting.delete(id);
      reject(new Error('the supervisor did not answer with the workers’ metrics'));
    }, ANSWER_TIMEOUT_MS);
    waiting.set(id, (a) => {
      clearTimeout(timer);
      resolve(a);
    });
    process.send?.({ type: ASK, id });
  });
  if (answer.error !== undefined || answer.text === undefined) throw new Error(answer.error ?? 'no metrics');
  return answer.text;
}

/** The content type of the exposition text. */
export const METRICS_CONTENT_TYPE = registry.contentType;

/** In a worker, at start: ready to be gathered before the first scrape reaches any worker. */
export function prepareWorkerMetrics(): void {
  if (cluster.isWorker) joinGathering();
}

/** In the supervisor: answers workers' requests with every worker's metrics aggregated. */
export function superviseWorkerMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, message: { type?: string; id?: number }) => {
    if (message?.type !== ASK || typeof message.id !== 'number') return;
    const id = message.id;
    aggregator.clusterMetrics().then(
      (text) => worker.isConnected() && worker.send({ type: ANSWER, id, text } satisfies Answer),
      (err: Error) =>
        worker.isConnected() && worker.send({ type: ANSWER, id, error: err.message } satisfies Answer),
    );
  });
}
