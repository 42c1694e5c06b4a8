import type { ConfigurationOptionSetting } from '@aws-sdk/client-elastic-beanstalk';
import type { Database } from './database.js';
import type { Network, SecurityGroups } from './network.js';
import { INSTANCE_ROLE, SERVICE_ROLE } from './roles.js';
import type { DeploySettings } from './settings.js';

/** What the environment's option settings are made of, besides the settings. */
export interface EnvironmentInputs {
  network: Network;
  groups: SecurityGroups;
  database?: Database;
  fileSystemId?: string;
}

export const HEALTH_CHECK_PATH = '/hub/health';
export const ENV_NAMESPACE = 'aws:elasticbeanstalk:application:environment';

const option = (
  Namespace: string,
  OptionName: string,
  Value: string | number,
): ConfigurationOptionSetting => ({
  Namespace,
  OptionName,
  Value: String(Value),
});

/** Sifu's configuration on the instances: `SIFU_*` variables and the names (never values) of secrets. */
export function environmentProperties(
  settings: DeploySettings,
  inputs: EnvironmentInputs,
): Record<string, string> {
  const properties: Record<string, string> = {
    SIFU_HUB_PORT: String(settings.ports.hub),
    SIFU_NOTEBOOK_PORT: String(settings.ports.notebook),
    SIFU_CLUSTER_RELAY_PORT: String(settings.ports.relay),
    SIFU_DEPLOYMENT_TOKEN_PARAMETER: settings.tokenParameter,
    SIFU_AWS_REGION: settings.region,
  };
  if (inputs.fileSystemId) {
    properties.SIFU_EFS_FILE_SYSTEM_ID = inputs.fileSystemId;
    properties.SIFU_EFS_MOUNT_PATH = settings.efsMountPath;
  }
  if (inputs.database) {
    properties.RDS_HOSTNAME = inputs.database.hostname;
    properties.RDS_PORT = String(inputs.database.port);
    properties.RDS_DB_NAME = inputs.database.name;
    properties.RDS_USERNAME = inputs.database.username;
    properties.RDS_PASSWORD_PARAMETER = inputs.database.passwordParameter;
  }
  return properties;
}

/**
 * The environment's EB option settings: a load-balanced Docker environment behind an ALB whose listeners
 * (80 and the hub port to the hub, the notebook port to the notebooks) reach the `default` and `hub`
 * (both the hub) and `notebook` processes, as the bundle's .ebextensions names them, both health-checked on `/hub/health`; the instances in Sifu's security group.
 */
export function optionSettings(
  settings: DeploySettings,
  inputs: EnvironmentInputs,
): ConfigurationOptionSetting[] {
  const { ports } = settings;
  const subnets = inputs.network.subnets.map((subnet) => subnet.id).join(',');
  const process = (name: string, port: number) => {
    const ns = `aws:elasticbeanstalk:environment:process:${name}`;
    return [
      option(ns, 'Port', port),
      option(ns, 'Protocol', 'HTTP'),
      option(ns, 'HealthCheckPath', HEALTH_CHECK_PATH),
      option(ns, 'MatcherHTTPCode', '200'),
    ];
  };
  const listener = (name: string, processName: string) => {
    const ns = `aws:elbv2:listener:${name}`;
    return [
      option(ns, 'ListenerEnabled', 'true'),
      option(ns, 'Protocol', 'HTTP'),
      option(ns, 'DefaultProcess', processName),
    ];
  };
  const listenerPorts = [
    ...listener('default', 'default'),
    ...(ports.hub === 80 ? [] : listener(String(ports.hub), 'hub')),
    ...listener(String(ports.notebook), 'notebook'),
  ];
  return [
    option('aws:elasticbeanstalk:environment', 'EnvironmentType', 'LoadBalanced'),
    option('aws:elasticbeanstalk:environment', 'LoadBalancerType', 'application'),
    option('aws:elasticbeanstalk:environment', 'ServiceRole', SERVICE_ROLE),
    option('aws:elasticbeanstalk:healthreporting:system', 'SystemType', 'enhanced'),
    option('aws:autoscaling:launchconfiguration', 'IamInstanceProfile', INSTANCE_ROLE),
    option('aws:autoscaling:launchconfiguration', 'InstanceType', settings.instanceType),
    option('aws:autoscaling:launchconfiguration', 'SecurityGroups', inputs.groups.instances),
    option('aws:autoscaling:asg', 'MinSize', settings.instances.min),
    option('aws:autoscaling:asg', 'MaxSize', settings.instances.max),
    option('aws:ec2:vpc', 'VPCId', inputs.network.vpcId),
    option('aws:ec2:vpc', 'Subnets', subnets),
    option('aws:ec2:vpc', 'ELBSubnets', subnets),
    option('aws:elbv2:loadbalancer', 'SecurityGroups', inputs.groups.loadBalancer),
    option('aws:elbv2:loadbalancer', 'ManagedSecurityGroup', inputs.groups.loadBalancer),
    ...listenerPorts,
    ...process('default', ports.hub),
    ...process('hub', ports.hub),
    ...process('notebook', ports.notebook),
    ...Object.entries(environmentProperties(settings, inputs)).map(([name, value]) =>
      option(ENV_NAMESPACE, name, value),
    ),
  ];
}

/** Lists EB may answer in another order; EB adds its own security group to the instances' list. */
const LISTS = new Set(['Subnets', 'ELBSubnets', 'SecurityGroups']);

function sameValue(wanted: ConfigurationOptionSetting, current: string | undefined): boolean {
  if (current === wanted.Value) return true;
  if (current === undefined || !LISTS.has(wanted.OptionName ?? '')) return false;
  const items = (value: string) =>
    value
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean);
  const have = new Set(items(current));
  const want = items(wanted.Value ?? '');
  const extra = [...have].filter((item) => !want.includes(item));
  // Only EB's own group (named `awseb-...`) may be there besides ours.
  const ebOwn =
    wanted.OptionName === 'SecurityGroups' && wanted.Namespace === 'aws:autoscaling:launchconfiguration';
  return (
    want.every((item) => have.has(item)) &&
    (extra.length === 0 || (ebOwn && extra.every((item) => /^awseb-/.test(item))))
  );
}

const keyOf = (setting: ConfigurationOptionSetting) => `${setting.Namespace}|${setting.OptionName}`;

/**
 * What an update must send: the wanted settings whose value differs from the environment's, and
 * `ListenerEnabled: false` for a port listener no longer wanted (an old port's).
 */
export function changedOptions(
  wanted: ConfigurationOptionSetting[],
  current: ConfigurationOptionSetting[],
): ConfigurationOptionSetting[] {
  const now = new Map(current.map((setting) => [keyOf(setting), setting.Value]));
  const changes = wanted.filter((setting) => !sameValue(setting, now.get(keyOf(setting))));
  const wantedListeners = new Set(wanted.map((setting) => setting.Namespace));
  for (const setting of current) {
    const ns = setting.Namespace ?? '';
    if (!/^aws:elbv2:listener:\d+$/.test(ns) || wantedListeners.has(ns)) continue;
    if (setting.OptionName === 'ListenerEnabled' && setting.Value !== 'false') {
      changes.push(option(ns, 'ListenerEnabled', 'false'));
    }
  }
  return changes;
}
