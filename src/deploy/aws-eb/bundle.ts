import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { packageRoot } from '../../spawner/assets.js';
import { zipArchive } from './bundle-zip.js';
import type { DeployImages, DeploySettings } from './settings.js';

/**
 * The Elastic Beanstalk source bundle ("Docker running on 64bit Amazon Linux 2023"): a Docker Compose
 * file running Sifu's image on the host network, the instance's nginx configured by the bundle in front
 * of it, the hooks that prepare each instance, and the option settings of the environment.
 * docs/deploy-aws.md, "The bundle", says why this layout.
 */

/** A file of the bundle: its path inside, its text and whether it is executable. */
export interface BundleFile {
  path: string;
  text: string;
  executable?: boolean;
}

/** Where Sifu listens on the instance, behind the instance's nginx (which takes the public ports). */
export function internalPorts(settings: DeploySettings): { hub: number; notebook: number } {
  return { hub: settings.ports.hub + 10_000, notebook: settings.ports.notebook + 10_000 };
}

/** Sifu's data directory: the same path on the instance and in the container (learners' sockets). */
export const DATA_DIR = '/var/lib/sifu';
/** Where the hooks leave the instance's env file and the token (`SIFU_EB_STATE_DIR` in the rehearsal). */
export const STATE_DIR = '/var/lib/sifu-eb';
/** Where Sifu's container sees the secrets the hooks fetched (the instance's `<state>/secrets`, read-only). */
export const SECRETS_IN_CONTAINER = '/run/secrets/sifu';
export const TOKEN_IN_CONTAINER = `${SECRETS_IN_CONTAINER}/deployment-token`;

const HOOK_PHASES = ['prebuild', 'predeploy', 'postdeploy'] as const;
const HOOK_NAMES = {
  prebuild: '10-sifu-instance.sh',
  predeploy: '10-sifu-nginx.sh',
  postdeploy: '10-sifu-ready.sh',
} as const;

// Run-time templates under assets/eb/ (found from src/ and dist/ alike, like the warm pool's launcher).
const asset = (name: string) => readFileSync(join(packageRoot(), 'assets', 'eb', name), 'utf8');
const q = (value: string | number) => JSON.stringify(String(value));

/** The compose file: one service, Sifu, on the host network (its relay listens on the private address). */
export function composeFile(settings: DeploySettings, images: DeployImages): string {
  const internal = internalPorts(settings);
  const homes = `${settings.efsMountPath}/homes`;
  const state = `\${SIFU_EB_STATE_DIR:-${STATE_DIR}}`;
  const data = `\${SIFU_EB_DATA_DIR:-${DATA_DIR}}`;
  const environment: Record<string, string | number> = {
    // The environment properties name the public ports (nginx's); Sifu listens behind nginx, on loopback,
    // and these win over .env. The relay port is the property's: instances reach each other directly.
    SIFU_HUB_HOST: '127.0.0.1',
    SIFU_HUB_PORT: internal.hub,
    SIFU_NOTEBOOK_HOST: '127.0.0.1',
    SIFU_NOTEBOOK_PORT: internal.notebook,
    SIFU_CLUSTER_RELAY_HOST: '0.0.0.0',
    SIFU_SPAWNER_BACKEND: 'docker',
    SIFU_SPAWNER_DOCKER_IMAGE: images.notebook,
    SIFU_SPAWNER_DOCKER_SOCKET: '/var/run/docker.sock',
    SIFU_STORAGE_ROOT: homes,
    SIFU_DATA_DIR: data,
    SIFU_COURSES_DEPLOYMENT_TOKEN_FILE: TOKEN_IN_CONTAINER,
  };
  return [
    '# Sifu on Elastic Beanstalk (written by `sifu deploy aws-eb bundle`).',
    "# .env: the environment properties EB writes (SIFU_*, RDS_*); instance.env: this instance's relay",
    '# address and host id, written by the prebuild hook from IMDSv2.',
    'services:',
    '  sifu:',
    `    image: ${q(images.sifu)}`,
    '    network_mode: host',
    '    restart: unless-stopped',
    '    command: ["serve"]',
    '    env_file:',
    '      - .env',
    `      - ${q(`${state}/instance.env`)}`,
    '    environment:',
    ...Object.entries(environment).map(([name, value]) => `      ${name}: ${q(value)}`),
    '    volumes:',
    // Same paths inside and out: Sifu hands these host paths to the engine for learners' containers.
    '      - "/var/run/docker.sock:/var/run/docker.sock"',
    `      - ${q(`${settings.efsMountPath}:${settings.efsMountPath}`)}`,
    `      - ${q(`${data}:${data}`)}`,
    `      - ${q(`${state}/secrets:${SECRETS_IN_CONTAINER}:ro`)}`,
    '',
  ].join('\n');
}

function upstream(name: string, port: number): string {
  return [`upstream ${name} {`, `  server 127.0.0.1:${port};`, '  keepalive 32;', '}'].join('\n');
}

function proxiedLocation(path: string, upstreamName: string, exact = false): string {
  return [
    `  location ${exact ? '= ' : ''}${path} {`,
    `    proxy_pass http://${upstreamName};`,
    '    proxy_http_version 1.1;',
    '    proxy_set_header Host $http_host;',
    '    proxy_set_header Upgrade $http_upgrade;',
    '    proxy_set_header Connection $sifu_connection;',
    '    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
    '    proxy_set_header X-Forwarded-Proto $http_x_forwarded_proto;',
    // Kernels' WebSockets stay open for hours; the ALB's idle timeout (an hour) is the one that counts.
    '    proxy_read_timeout 3600s;',
    '    proxy_send_timeout 3600s;',
    // Spawn progress is Server-Sent Events, uploads can be large: pass both through as they come.
    '    proxy_buffering off;',
    '    proxy_request_buffering off;',
    '  }',
  ].join('\n');
}

/** The instance's nginx: both public ports, to Sifu's loopback ports, WebSockets passed through. */
export function nginxConf(settings: DeploySettings): string {
  const internal = internalPorts(settings);
  return [
    "# Sifu behind the instance's nginx (written by `sifu deploy aws-eb bundle`), included in http {}.",
    "map $http_upgrade $sifu_connection { default upgrade; '' ''; }",
    upstream('sifu_hub', internal.hub),
    upstream('sifu_notebook', internal.notebook),
    'server {',
    `  listen ${settings.ports.hub};`,
    '  client_max_body_size 0;',
    proxiedLocation('/', 'sifu_hub'),
    '}',
    'server {',
    `  listen ${settings.ports.notebook};`,
    '  client_max_body_size 0;',
    // The notebook target group's health check: Sifu's hub health, asked on this listener.
    proxiedLocation('/hub/health', 'sifu_hub', true),
    proxiedLocation('/', 'sifu_notebook'),
    '}',
    '',
  ].join('\n');
}

/** `.ebextensions/sifu.config` (JSON, which EB reads as well as YAML). */
export function ebextensionsConfig(settings: DeploySettings): string {
  const { hub, notebook, relay } = settings.ports;
  const env = 'aws:elasticbeanstalk:application:environment';
  const process = (name: string, port: number) => [
    {
      namespace: `aws:elasticbeanstalk:environment:process:${name}`,
      option_name: 'Port',
      value: String(port),
    },
    { namespace: `aws:elasticbeanstalk:environment:process:${name}`, option_name: 'Protocol', value: 'HTTP' },
    {
      namespace: `aws:elasticbeanstalk:environment:process:${name}`,
      option_name: 'HealthCheckPath',
      value: '/hub/health',
    },
  ];
  const listener = (port: number, processName: string) => [
    { namespace: `aws:elbv2:listener:${port}`, option_name: 'ListenerEnabled', value: 'true' },
    { namespace: `aws:elbv2:listener:${port}`, option_name: 'Protocol', value: 'HTTP' },
    { namespace: `aws:elbv2:listener:${port}`, option_name: 'DefaultProcess', value: processName },
  ];
  const ingress = (port: number, from: unknown, description: string) => ({
    Type: 'AWS::EC2::SecurityGroupIngress',
    Properties: {
      GroupId: { 'Fn::GetAtt': ['AWSEBSecurityGroup', 'GroupId'] },
      IpProtocol: 'tcp',
      FromPort: port,
      ToPort: port,
      SourceSecurityGroupId: from,
      Description: description,
    },
  });
  const loadBalancer = { 'Fn::GetAtt': ['AWSEBLoadBalancerSecurityGroup', 'GroupId'] };
  const instances = { 'Fn::GetAtt': ['AWSEBSecurityGroup', 'GroupId'] };
  const config = {
    option_settings: [
      // The public ports (nginx's, the ALB's targets), as the AWS steps set them too.
      { namespace: env, option_name: 'SIFU_HUB_PORT', value: String(hub) },
      { namespace: env, option_name: 'SIFU_NOTEBOOK_PORT', value: String(notebook) },
      { namespace: env, option_name: 'SIFU_CLUSTER_RELAY_PORT', value: String(relay) },
      {
        namespace: 'aws:elasticbeanstalk:environment',
        option_name: 'LoadBalancerType',
        value: 'application',
      },
      ...process('default', hub),
      ...process('hub', hub),
      ...process('notebook', notebook),
      ...listener(hub, 'hub'),
      ...listener(notebook, 'notebook'),
      { namespace: 'aws:elbv2:loadbalancer', option_name: 'IdleTimeout', value: '3600' },
    ],
    Resources: {
      SifuHubFromLoadBalancer: ingress(hub, loadBalancer, 'Sifu hub from the load balancer'),
      SifuNotebookFromLoadBalancer: ingress(notebook, loadBalancer, 'Sifu notebooks from the load balancer'),
      SifuRelayBetweenInstances: ingress(relay, instances, 'Sifu relay between instances'),
    },
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

/** `.platform/sifu-eb.env`: what the hooks need to know of the deployment (no secret). */
export function hookSettings(settings: DeploySettings): string {
  const lines = {
    SIFU_EB_REGION: settings.region,
    SIFU_EB_TOKEN_PARAMETER: settings.tokenParameter,
    SIFU_EB_EFS: settings.efs ? 'true' : 'false',
    SIFU_EB_EFS_MOUNT: settings.efsMountPath,
    SIFU_EB_HUB_PORT: String(settings.ports.hub),
    SIFU_EB_RELAY_PORT: String(settings.ports.relay),
  };
  return `${Object.entries(lines)
    .map(([name, value]) => `${name}='${value.replaceAll("'", `'\\''`)}'`)
    .join('\n')}\n`;
}

/** Every file of the bundle, in a stable order. */
export function bundleFiles(settings: DeploySettings, images: DeployImages): BundleFile[] {
  const files: BundleFile[] = [
    { path: 'docker-compose.yml', text: composeFile(settings, images) },
    { path: '.ebextensions/sifu.config', text: ebextensionsConfig(settings) },
    { path: '.platform/nginx/conf.d/sifu-ports.conf', text: nginxConf(settings) },
    { path: '.platform/sifu-eb.env', text: hookSettings(settings) },
    { path: '.platform/sifu-eb-lib.sh', text: asset('hooks/sifu-eb-lib.sh') },
  ];
  // Config-only updates (environment properties) re-create the container: the same steps run again.
  for (const root of ['hooks', 'confighooks'])
    for (const phase of HOOK_PHASES)
      files.push({
        path: `.platform/${root}/${phase}/${HOOK_NAMES[phase]}`,
        text: asset(`hooks/${phase}.sh`),
        executable: true,
      });
  return files;
}

/** The hooks of one phase, in the order EB runs them (lexicographic). */
export function hookPaths(phase: (typeof HOOK_PHASES)[number], config = false): string[] {
  return [`.platform/${config ? 'confighooks' : 'hooks'}/${phase}/${HOOK_NAMES[phase]}`];
}

/**
 * Writes the bundle into `outDir` (a folder, emptied first, and `<outDir>.zip` beside it). The hash is of
 * the zip, which depends only on the files: the same settings and images give the same version label.
 */
export async function writeBundle(
  settings: DeploySettings,
  images: DeployImages,
  outDir: string,
): Promise<{ dir: string; zip: string; hash: string }> {
  const files = bundleFiles(settings, images);
  await rm(outDir, { recursive: true, force: true });
  for (const file of files) {
    const path = join(outDir, file.path);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, file.text);
    await chmod(path, file.executable ? 0o755 : 0o644);
  }
  const archive = zipArchive(
    files.map((file) => ({
      path: file.path,
      data: Buffer.from(file.text, 'utf8'),
      mode: file.executable ? 0o755 : 0o644,
    })),
  );
  const zip = `${outDir.replace(/\/+$/, '')}.zip`;
  await writeFile(zip, archive);
  const hash = createHash('sha256').update(archive).digest('hex').slice(0, 16);
  return { dir: outDir, zip, hash };
}

/** The `BundleWriter` the AWS steps call: bundles go into `<root>/<environment>`. */
export function bundleWriter(root: string): {
  write(settings: DeploySettings, images: DeployImages): Promise<{ zip: string; hash: string }>;
} {
  return {
    async write(settings, images) {
      const { zip, hash } = await writeBundle(settings, images, join(root, settings.environment));
      return { zip, hash };
    },
  };
}
