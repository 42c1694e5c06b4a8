/**
 * A stand-in for the Elastic Beanstalk platform agent of "Docker running on Amazon Linux 2023", and for
 * what AWS gives an instance, so that a bundle can be rehearsed on this machine (test/deploy-rehearsal):
 *
 * - the agent: unzips the bundle into a staging directory (as /var/app/staging), turns the
 *   `.ebextensions` environment properties plus the ones AWS would add (RDS_*, the public URLs) into the
 *   `.env` Docker Compose reads, runs the hooks in EB's order — prebuild, the containers started with
 *   `docker-compose up` on the real engine, predeploy, nginx (Debian's, with the bundle's conf.d, after
 *   `nginx -t`), postdeploy — and takes it all down again;
 * - AWS: `get-config` over those properties, an `aws` CLI answering `ssm get-parameter` from a fake
 *   parameter store, an IMDSv2 server (token first) giving 127.0.0.1 as the private address, and
 *   `mount`/`iptables` that record what they were asked (EFS is a local directory; this machine's
 *   firewall is not touched).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const NGINX = '/usr/sbin/nginx';

export interface EbAgentStandInOptions {
  /** The bundle's zip. */
  zip: string;
  /** Environment properties AWS or the AWS steps would add (RDS_*, SIFU_*_PUBLIC_URL, ...). */
  properties: Record<string, string>;
  /** The fake SSM Parameter Store: name -> value (SecureString). */
  parameters: Record<string, string>;
  /** Compose project name (containers are named after it). */
  project: string;
}

export interface EbAgentStandIn {
  /** The staging directory the bundle was unzipped into. */
  staging: string;
  /** Sifu's data directory and the hooks' state directory on "the instance". */
  dataDir: string;
  stateDir: string;
  /** Each command the stand-in tools were asked to run (`aws ...`, `mount ...`, `iptables ...`). */
  calls(): Promise<string[]>;
  /** Every hook's and compose's output, and nginx's logs, for failure messages. */
  logs(): Promise<string>;
  /** docker-compose down, nginx stopped, the IMDS stand-in closed, the work directory removed. */
  stop(): Promise<void>;
}

function script(lines: string[]): string {
  return ['#!/usr/bin/env bash', 'set -euo pipefail', ...lines, ''].join('\n');
}

async function startImdsStandIn(): Promise<{ url: string; server: Server }> {
  const token = `imds-${Math.random().toString(36).slice(2)}`;
  const server = createServer((req, res) => {
    if (req.method === 'PUT' && req.url === '/latest/api/token') {
      if (!req.headers['x-aws-ec2-metadata-token-ttl-seconds']) return void res.writeHead(400).end();
      return void res.end(token);
    }
    // IMDSv2 only: without the session token, 401 (as an instance with HttpTokens=required answers).
    if (req.headers['x-aws-ec2-metadata-token'] !== token) return void res.writeHead(401).end();
    if (req.url === '/latest/meta-data/local-ipv4') return void res.end('127.0.0.1');
    if (req.url === '/latest/meta-data/instance-id') return void res.end('i-0rehearsal');
    res.writeHead(404).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** The environment properties a bundle's `.ebextensions` set (JSON config files). */
export async function ebextensionsProperties(staging: string): Promise<Record<string, string>> {
  const props: Record<string, string> = {};
  const dir = join(staging, '.ebextensions');
  for (const name of (await readdir(dir)).sort()) {
    if (!name.endsWith('.config')) continue;
    const config = JSON.parse(await readFile(join(dir, name), 'utf8')) as {
      option_settings?: Array<{ namespace: string; option_name: string; value: string }>;
    };
    for (const option of config.option_settings ?? [])
      if (option.namespace === 'aws:elasticbeanstalk:application:environment')
        props[option.option_name] = option.value;
  }
  return props;
}

export async function deployWithEbAgentStandIn(options: EbAgentStandInOptions): Promise<EbAgentStandIn> {
  const work = await mkdtemp(join(tmpdir(), 'sifu-eb-rehearsal-'));
  await chmod(work, 0o755);
  const staging = join(work, 'var/app/staging');
  const dataDir = join(work, 'var/lib/sifu');
  const stateDir = join(work, 'var/lib/sifu-eb');
  const bin = join(work, 'standin-bin');
  const nginxDir = join(work, 'nginx');
  const confDir = join(nginxDir, 'conf.d');
  const callLog = join(work, 'calls.log');
  const log: string[] = [];
  await Promise.all([staging, dataDir, bin, confDir].map((d) => mkdir(d, { recursive: true })));

  await run('/usr/bin/unzip', ['-q', options.zip, '-d', staging]);
  const properties = { ...(await ebextensionsProperties(staging)), ...options.properties };
  await writeFile(
    join(staging, '.env'),
    Object.entries(properties)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n')
      .concat('\n'),
    { mode: 0o600 },
  );
  const propsFile = join(work, 'properties.json');
  await writeFile(propsFile, JSON.stringify(properties));
  const paramsFile = join(work, 'ssm-parameters.json');
  await writeFile(paramsFile, JSON.stringify(options.parameters), { mode: 0o600 });

  const record = `printf '%s\\n' "$(basename "$0") $*" >> ${callLog}`;
  const node = process.execPath;
  const tools: Record<string, string> = {
    'get-config': script([
      // get-config environment -k NAME
      `exec ${node} -e 'const p=require(process.argv[1]); const v=p[process.argv[2]]; if (v!==undefined) process.stdout.write(v)' ${propsFile} "$3"`,
    ]),
    aws: script([
      record,
      '[ "$1 $2" = "ssm get-parameter" ] || { echo "aws stand-in: only ssm get-parameter" >&2; exit 2; }',
      'name=""; while [ $# -gt 0 ]; do [ "$1" = --name ] && name=$2; shift; done',
      `exec ${node} -e 'const p=require(process.argv[1]); const v=p[process.argv[2]]; if (v===undefined) { console.error("ParameterNotFound"); process.exit(254); } process.stdout.write(v+"\\n")' ${paramsFile} "$name"`,
    ]),
    mount: script([record]),
    iptables: script([
      record,
      // No DOCKER-USER chain here (dockerd runs with --iptables=false) and no rule yet.
      'case "$*" in "-n -L DOCKER-USER") exit 1 ;; -C*) exit 1 ;; esac',
    ]),
  };
  for (const [name, text] of Object.entries(tools)) {
    await writeFile(join(bin, name), text);
    await chmod(join(bin, name), 0o755);
  }

  const imds = await startImdsStandIn();
  const mainConf = join(nginxDir, 'nginx.conf');
  // As Amazon Linux's /etc/nginx/nginx.conf: conf.d included in http {}.
  await writeFile(
    mainConf,
    [
      'daemon off;',
      'worker_processes 1;',
      `pid ${join(nginxDir, 'nginx.pid')};`,
      `error_log ${join(nginxDir, 'error.log')} warn;`,
      'events { worker_connections 1024; }',
      'http {',
      `  access_log ${join(nginxDir, 'access.log')};`,
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(
        (t) => `  ${t}_temp_path ${join(nginxDir, t)};`,
      ),
      `  include ${confDir}/*.conf;`,
      '}',
      '',
    ].join('\n'),
  );
  const nginxArgs = ['-p', nginxDir, '-e', join(nginxDir, 'error.log'), '-c', mainConf];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${bin}:${process.env.PATH}`,
    SIFU_EB_AWS_CLI: join(bin, 'aws'),
    SIFU_EB_GET_CONFIG: join(bin, 'get-config'),
    SIFU_EB_IMDS_URL: imds.url,
    SIFU_EB_IPTABLES: join(bin, 'iptables'),
    SIFU_EB_MOUNT: join(bin, 'mount'),
    SIFU_EB_STATE_DIR: stateDir,
    SIFU_EB_DATA_DIR: dataDir,
    SIFU_EB_NGINX_CONF_DIR: confDir,
    SIFU_EB_NGINX_TEST: `${NGINX} -t ${nginxArgs.join(' ')}`,
    SIFU_EB_NGINX_RELOAD: `${NGINX} -s reload ${nginxArgs.join(' ')}`,
  };
  const compose = ['docker-compose', '--project-name', options.project, '--project-directory', staging];

  const step = async (what: string, argv: string[]) => {
    try {
      const { stdout, stderr } = await run(argv[0] as string, argv.slice(1), {
        cwd: staging,
        env,
        timeout: 180_000,
      });
      log.push(`--- ${what}\n${stdout}${stderr}`);
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      log.push(`--- ${what} FAILED\n${e.stdout ?? ''}${e.stderr ?? ''}`);
      throw new Error(`${what} failed: ${e.message}\n${e.stderr ?? ''}`);
    }
  };
  const hooks = async (phase: string) => {
    const dir = join(staging, '.platform/hooks', phase);
    for (const name of (await readdir(dir)).sort()) await step(`hook ${phase}/${name}`, [join(dir, name)]);
  };

  let nginx: ChildProcess | undefined;
  const stop = async () => {
    await step('docker-compose down', [...compose, 'down', '--timeout', '5']).catch(() => {});
    if (nginx && nginx.exitCode === null) {
      const exited = once(nginx, 'exit');
      nginx.kill('SIGTERM');
      await exited;
    }
    imds.server.close();
    await rm(work, { recursive: true, force: true });
  };
  const logs = async () => {
    const read = (f: string) => readFile(f, 'utf8').catch(() => '');
    const container = await run('docker', ['logs', '--tail', '60', `${options.project}_sifu_1`]).then(
      (r) => r.stdout + r.stderr,
      () => '',
    );
    return `${log.join('\n')}\n--- sifu container\n${container}\n--- nginx\n${await read(join(nginxDir, 'error.log'))}`;
  };

  try {
    await hooks('prebuild');
    // The platform's build step: the images are local here (EB pulls them from ECR), then the start.
    await step('docker-compose up', [...compose, 'up', '--detach', '--no-build']);
    await hooks('predeploy');
    await step('nginx -t', [NGINX, '-t', ...nginxArgs]);
    nginx = spawn(NGINX, nginxArgs, { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 300));
    if (nginx.exitCode !== null) throw new Error(`nginx exited: ${nginx.exitCode}`);
    await hooks('postdeploy');
  } catch (err) {
    const why = await logs();
    await stop();
    throw new Error(`${(err as Error).message}\n${why}`);
  }
  return {
    staging,
    dataDir,
    stateDir,
    calls: async () => (await readFile(callLog, 'utf8').catch(() => '')).split('\n').filter(Boolean),
    logs,
    stop,
  };
}
