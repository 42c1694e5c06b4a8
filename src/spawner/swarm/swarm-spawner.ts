import { randomBytes } from 'node:crypto';
import Docker from 'dockerode';
import { isSifuError, SifuError } from '../../errors.js';
import { cancelledError, sleep } from '../cancelled.js';
import { CONTAINER_USER, checkEgressNetwork, DEFAULT_PIDS_LIMIT } from '../container-security.js';
import {
  CONTAINER_SOCKET_DIR,
  checkContainerCommand,
  containerServer,
  withHubChannel,
} from '../container-server.js';
import { DEFAULT_HOME_PATH } from '../docker/docker-spawner.js';
import { demuxLogs, isNotFound } from '../docker/engine.js';
import { engineName, instanceFilter, LABEL_SERVER, LABEL_USER, serverLabels } from '../docker/labels.js';
import { pickFreePort } from '../local/free-port.js';
import { makeServerSocketDir, removeServerSocketDir } from '../server-socket.js';
import type { PollResult, Spawner, StartContext, Started, StartRequest } from '../spawner.js';
import { type SwarmState, TERMINAL_TASK_STATES, toSwarmState } from './swarm-state.js';

export interface SwarmSpawnerOptions {
  command: string;
  image: string;
  socketPath?: string;
  homePath?: string;
  memoryBytes?: number;
  cpus?: number;
  /** Most processes and threads of one task's container (default 1024). */
  pidsLimit?: number;
  /**
   * `spawner.docker.network`: a network the operator made for learners' egress, which every service
   * joins. Undefined (the default): each service gets an internal overlay network of its own, on which it
   * is alone (Swarm cannot attach a service to `none`).
   */
  network?: string;
  /**
   * Host directory of the servers' socket directories (`<dataDir>/run`), bind-mounted into the task: the
   * task must run on the node Sifu runs on (see docs/security.md).
   */
  runDir: string;
  /** Swarm placement constraints, e.g. `node.labels.sifu==notebooks`. */
  constraints?: string[];
  /** Token as a Swarm secret (default true); false passes it in `JUPYTER_TOKEN`. */
  tokenAsSecret?: boolean;
  instance?: string;
  labels?: Record<string, string>;
  /** Extra bind mounts `{ source, target, readOnly }` (tests mount the failure doubles). */
  mounts?: Array<{ source: string; target: string; readOnly?: boolean }>;
  extraEnv?: Record<string, string>;
  launchWindowMs?: number;
  stopGraceMs?: number;
}

interface TaskView {
  ID?: string;
  CreatedAt?: string;
  DesiredState?: string;
  Status?: { State?: string; Err?: string; Message?: string; ContainerStatus?: { ExitCode?: number } };
}

const TOKEN_FILE = 'sifu-token';
const SWARM_RUNTIME_DIR = '/tmp/sifu-runtime';
/** Label naming the network Sifu made for a service (absent on services of the operator's network). */
const LABEL_NETWORK = 'sifu.network';
/** How long `stop` waits for the tasks to be down beyond the grace period. */
const STOP_SLACK_MS = 15_000;

/**
 * The `swarm` backend: each server a Swarm service of one replica (no restart: a dead server is reported,
 * not silently replaced), confined as `docker`'s containers are (an unprivileged user, no capabilities, a
 * read-only image, memory, CPU and process limits), alone on an internal network of its own, the server
 * on a unix socket in a directory bind-mounted from Sifu's host, with placement constraints. The home is a
 * bind mount of the storage root's user directory, which must be the same shared mount (EFS/NFS) on every
 * node. The token is a Swarm secret, mounted as a file, read by Jupyter through JUPYTER_TOKEN_FILE.
 */
export function createSwarmSpawner(options: SwarmSpawnerOptions): Spawner {
  checkEgressNetwork(options.network);
  const docker = new Docker({ socketPath: options.socketPath ?? '/var/run/docker.sock' });
  const homePath = options.homePath ?? DEFAULT_HOME_PATH;
  const instance = options.instance ?? 'default';
  const launchWindowMs = options.launchWindowMs ?? 150;
  const defaultGraceMs = options.stopGraceMs ?? 5_000;
  const tokenAsSecret = options.tokenAsSecret ?? true;
  checkContainerCommand(options.command);

  // The task must run where its socket directory is: this Sifu's node. Its replica (and, through the
  // relay, every other) reaches the server there; `spawner.docker.constraints` narrow nothing further.
  let ownNode: Promise<string> | undefined;
  const ownNodeConstraint = async (): Promise<string> => {
    ownNode ??= docker.info().then(
      (info: { Swarm?: { NodeID?: string } }) => {
        const id = info.Swarm?.NodeID;
        if (!id) throw new Error('this engine is not a swarm node');
        return `node.id==${id}`;
      },
      (err: unknown) => {
        ownNode = undefined;
        throw err;
      },
    );
    return ownNode;
  };

  const tasksOf = async (serviceId: string): Promise<TaskView[]> => {
    const tasks = (await docker.listTasks({
      filters: JSON.stringify({ service: [serviceId] }),
    })) as TaskView[];
    return tasks.sort((a, b) => String(b.CreatedAt).localeCompare(String(a.CreatedAt)));
  };

  const logTail = async (serviceId: string, redact: string[] = []): Promise<string> => {
    try {
      const raw = (await docker
        .getService(serviceId)
        .logs({ stdout: true, stderr: true, tail: 20, follow: false })) as unknown as Buffer;
      const text = demuxLogs(raw, redact);
      return text ? `last output:\n${text}` : 'no output';
    } catch (err) {
      return `output unavailable (${String((err as Error).message ?? err)})`;
    }
  };

  async function start(request: StartRequest, context: StartContext): Promise<Started> {
    const { signal } = context;
    if (signal.aborted) throw cancelledError(signal);
    const suffix = randomBytes(4).toString('hex');
    const serviceName = engineName('sifu', request.userName, request.serverName, suffix);
    // No network reaches the server, so no port is ever used; commands that still name one get a number.
    const port = await pickFreePort();
    const labels = serverLabels(instance, request.userName, request.serverName, options.labels);
    let secretId: string | null = null;
    let serviceId: string | undefined;
    let networkId: string | null = null;
    let socketDir: string | null = null;
    const cleanup = async (): Promise<void> => {
      if (serviceId)
        await docker
          .getService(serviceId)
          .remove()
          .catch(() => {});
      if (secretId) await removeSecretWhenFree(secretId);
      if (networkId) await removeNetworkWhenFree(networkId);
      if (socketDir) await removeServerSocketDir(socketDir);
    };
    try {
      const socket = await makeServerSocketDir(options.runDir, request, CONTAINER_USER);
      socketDir = socket.dir;
      const server = containerServer(request, {
        command: options.command,
        homePath,
        port,
        extraEnv: options.extraEnv,
      });
      context.progress({ progress: 10, message: 'Asking the cluster for a place to run' });
      const secrets: object[] = [];
      if (tokenAsSecret) {
        const created = (await docker.createSecret({
          Name: `${serviceName}-token`,
          Labels: labels,
          Data: Buffer.from(request.secret).toString('base64'),
        })) as { id?: string; ID?: string };
        secretId = created.id ?? created.ID ?? null;
        secrets.push({
          SecretID: secretId,
          SecretName: `${serviceName}-token`,
          File: {
            Name: TOKEN_FILE,
            UID: String(CONTAINER_USER.uid),
            GID: String(CONTAINER_USER.gid),
            Mode: 0o400,
          },
        });
        delete server.env.JUPYTER_TOKEN;
        server.env.JUPYTER_TOKEN_FILE = `/run/secrets/${TOKEN_FILE}`;
      }
      // Swarm's tmpfs takes no owner and keeps the image's root-only /run/sifu: Jupyter makes its
      // runtime directory (0700) in the tmpfs /tmp instead.
      server.env.JUPYTER_RUNTIME_DIR = SWARM_RUNTIME_DIR;
      // The task runs on this node (`ownNodeConstraint`), where the hub directory is.
      const { env, argv, mounts: hubMounts } = await withHubChannel(request, server);
      let network = options.network;
      if (network === undefined) {
        networkId = await createLoneNetwork(`${serviceName}-net`, labels);
        network = networkId;
      }
      const service = await docker.createService({
        Name: serviceName,
        Labels: networkId ? { ...labels, [LABEL_NETWORK]: networkId } : labels,
        TaskTemplate: {
          ContainerSpec: {
            Image: options.image,
            Args: argv,
            Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
            Dir: homePath,
            Labels: labels,
            User: `${CONTAINER_USER.uid}:${CONTAINER_USER.gid}`,
            ReadOnly: true,
            CapabilityDrop: ['ALL'],
            // Honoured by engines from API 1.44 on; older ones ignore it (docs/security.md).
            Privileges: { NoNewPrivileges: true },
            Init: true,
            StopGracePeriod: defaultGraceMs * 1e6,
            Mounts: [
              { Type: 'bind', Source: request.home, Target: homePath, ReadOnly: false },
              { Type: 'bind', Source: socket.dir, Target: CONTAINER_SOCKET_DIR, ReadOnly: false },
              { Type: 'tmpfs', Target: '/tmp', TmpfsOptions: { Mode: 0o1777 } },
              ...hubMounts.map((m) => ({ Type: 'bind', Source: m.source, Target: m.target, ReadOnly: true })),
              ...(options.mounts ?? []).map((m) => ({
                Type: 'bind',
                Source: m.source,
                Target: m.target,
                ReadOnly: m.readOnly ?? false,
              })),
            ],
            Secrets: secrets,
          },
          Resources: {
            Limits: {
              MemoryBytes: options.memoryBytes || undefined,
              NanoCPUs: options.cpus ? Math.round(options.cpus * 1e9) : undefined,
              Pids: options.pidsLimit ?? DEFAULT_PIDS_LIMIT,
            },
          },
          RestartPolicy: { Condition: 'none', MaxAttempts: 0 },
          Placement: { Constraints: [...(options.constraints ?? []), await ownNodeConstraint()] },
          Networks: [{ Target: network }],
        },
        Mode: { Replicated: { Replicas: 1 } },
        // No virtual IP (and so no load-balancer endpoint on the network): nothing to reach but the task.
        EndpointSpec: { Mode: 'dnsrr' },
      } as unknown as Docker.CreateServiceOptions);
      serviceId = (service as unknown as { id: string }).id;
      await waitForTask(serviceId, request, context);
      const state: SwarmState = { serviceId, serviceName, secretId, networkId, socketDir };
      return { url: socket.url, state: { ...state } };
    } catch (err) {
      await cleanup();
      if (isSifuError(err)) throw err;
      throw new SifuError(
        'SIFU_ERR_SPAWN_FAILED',
        'Your server could not be started. Please contact course staff.',
        {
          logDetail: `creating service ${serviceName}: ${String(err)}`,
          cause: err,
        },
      );
    }
  }

  /** Follows the task through the scheduler to `running`, as progress; a task that ends first is a crash. */
  async function waitForTask(serviceId: string, request: StartRequest, context: StartContext): Promise<void> {
    const messages: Record<string, [number, string]> = {
      pending: [15, 'Waiting for a free node'],
      assigned: [20, 'A node was chosen for your server'],
      preparing: [25, 'Preparing your container on its node'],
      starting: [30, 'Starting your container'],
      running: [40, 'Your container is running'],
    };
    let runningSince: number | undefined;
    let delay = 20;
    for (;;) {
      const task = (await tasksOf(serviceId))[0];
      const state = task?.Status?.State ?? 'new';
      const message = messages[state];
      if (message) context.progress({ progress: message[0], message: message[1] });
      if (TERMINAL_TASK_STATES.has(state)) {
        const exitCode = task?.Status?.ContainerStatus?.ExitCode;
        throw new SifuError(
          'SIFU_ERR_SPAWN_CRASHED',
          'Your server stopped as soon as it started. Please try again.',
          {
            logDetail: `service task ${state} (exit code ${exitCode ?? 'unknown'}: ${task?.Status?.Err ?? ''}) at launch; ${await logTail(serviceId, [request.secret])}`,
          },
        );
      }
      if (state === 'running') {
        runningSince ??= performance.now();
        if (performance.now() - runningSince >= launchWindowMs) return;
      }
      await sleep(delay, context.signal);
      delay = Math.min(delay * 2, 200);
    }
  }

  async function poll(rawState: Record<string, unknown>): Promise<PollResult> {
    const state = toSwarmState(rawState);
    try {
      await docker.getService(state.serviceId).inspect();
    } catch (err) {
      if (isNotFound(err)) return { status: 'stopped', reason: 'service is gone' };
      throw err;
    }
    const task = (await tasksOf(state.serviceId))[0];
    const taskState = task?.Status?.State;
    if (!task) return { status: 'stopped', reason: 'service has no task' };
    if (!taskState || !TERMINAL_TASK_STATES.has(taskState)) return { status: 'running' };
    const exitCode = task.Status?.ContainerStatus?.ExitCode ?? null;
    const how = `task ${taskState}${exitCode === null ? '' : ` with exit code ${exitCode}`}`;
    return {
      status: 'stopped',
      reason: exitCode === 0 ? how : `${how}; ${task.Status?.Err ?? ''} ${await logTail(state.serviceId)}`,
      exitCode,
    };
  }

  /**
   * Scales the service to zero with the asked grace period (Swarm sends the stop signal, then kills after
   * it), waits until its task is down, then removes the service and its secret.
   */
  async function stop(
    rawState: Record<string, unknown>,
    stopOptions: { graceMs?: number } = {},
  ): Promise<void> {
    const state = toSwarmState(rawState);
    const graceMs = stopOptions.graceMs ?? defaultGraceMs;
    const service = docker.getService(state.serviceId);
    try {
      const info = (await service.inspect()) as {
        Version: { Index: number };
        Spec: { Mode?: unknown; TaskTemplate: { ContainerSpec: { StopGracePeriod?: number } } };
      };
      const spec = info.Spec;
      spec.Mode = { Replicated: { Replicas: 0 } };
      spec.TaskTemplate.ContainerSpec.StopGracePeriod = Math.max(graceMs, 1) * 1e6;
      await service.update({ version: info.Version.Index, ...spec });
      const deadline = performance.now() + graceMs + STOP_SLACK_MS;
      while (performance.now() < deadline) {
        const tasks = await tasksOf(state.serviceId);
        if (tasks.every((t) => TERMINAL_TASK_STATES.has(t.Status?.State ?? ''))) break;
        await sleep(50);
      }
      await service.remove();
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    if (state.secretId) await removeSecretWhenFree(state.secretId);
    if (state.networkId) await removeNetworkWhenFree(state.networkId);
    if (state.socketDir) await removeServerSocketDir(state.socketDir);
  }

  /**
   * An internal overlay network for one service: no gateway, so no route to the host, the metadata
   * address or the internet, and no other member. Swarm has no `none` for services (moby#44403).
   */
  async function createLoneNetwork(name: string, labels: Record<string, string>): Promise<string> {
    const created = (await docker.createNetwork({
      Name: name,
      Driver: 'overlay',
      Internal: true,
      Attachable: false,
      CheckDuplicate: true,
      Labels: labels,
    })) as unknown as { id: string };
    return created.id;
  }

  /** A network still in use by a service's ending task cannot be removed yet: retry briefly. */
  async function removeNetworkWhenFree(networkId: string): Promise<void> {
    for (let attempt = 0; attempt < 50; attempt += 1) {
      try {
        await docker.getNetwork(networkId).remove();
        return;
      } catch (err) {
        if (isNotFound(err)) return;
        await sleep(100);
      }
    }
  }

  /** A secret in use by a service being removed cannot be removed yet: retry briefly. */
  async function removeSecretWhenFree(secretId: string): Promise<void> {
    for (let attempt = 0; attempt < 50; attempt += 1) {
      try {
        await docker.getSecret(secretId).remove();
        return;
      } catch (err) {
        if (isNotFound(err)) return;
        await sleep(100);
      }
    }
  }

  async function list(): Promise<
    Array<{ userName: string; serverName: string; state: Record<string, unknown> }>
  > {
    const services = await docker.listServices({
      filters: JSON.stringify({ label: instanceFilter(instance) }),
    });
    return services.map((s) => {
      const labels = s.Spec?.Labels ?? {};
      const secret = (s.Spec?.TaskTemplate as { ContainerSpec?: { Secrets?: Array<{ SecretID?: string }> } })
        ?.ContainerSpec?.Secrets?.[0]?.SecretID;
      const state: SwarmState = {
        serviceId: s.ID as string,
        serviceName: s.Spec?.Name ?? '',
        secretId: secret ?? null,
        networkId: labels[LABEL_NETWORK] ?? null,
        // Named by (user, server): an orphan's may be a live server's by now; the next start renews it.
        socketDir: null,
      };
      return {
        userName: labels[LABEL_USER] ?? '',
        serverName: labels[LABEL_SERVER] ?? '',
        state: { ...state },
      };
    });
  }

  return { backend: 'swarm', start, poll, stop, list };
}
