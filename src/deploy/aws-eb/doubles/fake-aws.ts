// biome-ignore-all lint/suspicious/noExplicitAny: each handler takes its own command's input, looked up by name
/**
 * An in-memory fake of the AWS services `sifu deploy aws-eb` uses, installed under the real SDK clients
 * with aws-sdk-client-mock: every command the steps send is answered from this state, with the services'
 * own error classes, their asynchronous states (an environment Launching, then Ready after some
 * DescribeEnvironments; RDS and EFS creating, then available), paginated answers, throttling and refusals.
 * Test code only (a failure double: `doubles/` never ships).
 */
import * as ec2 from '@aws-sdk/client-ec2';
import * as ecr from '@aws-sdk/client-ecr';
import * as efs from '@aws-sdk/client-efs';
import * as eb from '@aws-sdk/client-elastic-beanstalk';
import * as iam from '@aws-sdk/client-iam';
import * as rds from '@aws-sdk/client-rds';
import * as s3 from '@aws-sdk/client-s3';
import * as ssm from '@aws-sdk/client-ssm';
import * as sts from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { type AwsClients, createAwsClients, isReadOnly } from '../clients.js';

type Handler = (input: any) => unknown;

function must<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('fake AWS: no such resource');
  return value;
}
type ServiceName = keyof AwsClients;

/** A service error of the client package's own base class, named `name` (as the SDK deserializes it). */
function serviceError(service: ServiceName, name: string, message: string): Error {
  const Base = {
    sts: sts.STSServiceException,
    iam: iam.IAMServiceException,
    ecr: ecr.ECRServiceException,
    eb: eb.ElasticBeanstalkServiceException,
    s3: s3.S3ServiceException,
    ssm: ssm.SSMServiceException,
    rds: rds.RDSServiceException,
    efs: efs.EFSServiceException,
    ec2: ec2.EC2ServiceException,
  }[service];
  const err = new Base({ name, $fault: 'client', $metadata: { httpStatusCode: 400 }, message });
  // Some bases declare their own `name` as a class field; the SDK's deserializer names an error by its code.
  Object.defineProperty(err, 'name', { value: name, writable: true, configurable: true });
  return err;
}

export interface FakeEnvironment {
  application: string;
  name: string;
  status: string;
  health: string;
  version?: string;
  cname: string;
  options: Map<string, string>;
  /** DescribeEnvironments answers left before a transition ends. */
  pending: number;
  /** The next update fails (health Red, the old version kept, ERROR events). */
  failNextUpdate?: boolean;
  previousVersion?: string;
}

export interface FakeCall {
  service: ServiceName;
  action: string;
  input: any;
}

/** The fake's state, plain data (compared whole by the dry-run test). */
export function emptyState() {
  return {
    roles: {} as Record<string, { attached: string[]; inline: Record<string, string>; trust: string }>,
    profiles: {} as Record<string, string[]>,
    repositories: {} as Record<string, { uri: string; policy?: string }>,
    parameters: {} as Record<string, { value: string; type: string }>,
    securityGroups: {} as Record<string, { name: string; vpcId: string; rules: ec2.IpPermission[] }>,
    databases: {} as Record<string, { status: string; pending: number; password: string; input: any }>,
    fileSystems: {} as Record<string, { token: string; state: string; pending: number }>,
    mountTargets: {} as Record<
      string,
      { fileSystem: string; subnet: string; zone: string; state: string; pending: number }
    >,
    buckets: [] as string[],
    objects: {} as Record<string, number>,
    applications: [] as string[],
    versions: {} as Record<string, { bucket: string; key: string }>,
    environments: {} as Record<
      string,
      Omit<FakeEnvironment, 'options'> & { options: Record<string, string> }
    >,
    events: [] as { date: string; severity: string; message: string; environment: string }[],
  };
}

export type FakeState = ReturnType<typeof emptyState>;

export class FakeAws {
  readonly account = '123456789012';
  readonly vpcId = 'vpc-0default';
  /** Two subnets share a zone: EFS takes one mount target per zone. */
  readonly subnets = [
    { id: 'subnet-a1', zone: 'us-west-1a' },
    { id: 'subnet-a2', zone: 'us-west-1a' },
    { id: 'subnet-c1', zone: 'us-west-1c' },
  ];
  state: FakeState = emptyState();
  /** Every command sent to AWS (not those a dry run held back). */
  calls: FakeCall[] = [];
  /** DescribeEnvironments answers an environment stays Launching/Updating/Terminating. */
  transitionDescribes = 2;
  /** Describe answers RDS and EFS stay creating. */
  creatingDescribes = 2;
  /** No credentials at all: STS fails as the SDK's provider chain does. */
  noCredentials = false;
  private throttled = new Map<string, number>();
  private denied = new Set<string>();
  private failures = new Map<string, { name: string; message: string; times: number }>();
  private counter = 0;
  private clock = Date.parse('2026-01-01T00:00:00Z');
  private mocks: { restore(): void }[] = [];

  /** The first `times` calls of `action` answer ThrottlingException. */
  throttle(action: string, times: number): void {
    this.throttled.set(action, times);
  }

  /** The first `times` calls of `action` fail with the service error `name`. */
  fail(action: string, name: string, message: string, times = 1): void {
    this.failures.set(action, { name, message, times });
  }

  /** `action` is refused with AccessDenied. */
  deny(action: string): void {
    this.denied.add(action);
  }

  /** Clients as `createAwsClients` makes them, answered by this fake. */
  clients(): AwsClients {
    return createAwsClients('us-west-1', 'us-west-2');
  }

  /** Installs the mocks (on every instance of each client class); `restore` removes them. */
  install(): this {
    const handlers = this.handlers();
    const install = (service: ServiceName, Client: any, module: Record<string, unknown>) => {
      const mock = mockClient(Client);
      for (const [action, handler] of Object.entries(handlers[service])) {
        const Command = module[`${action}Command`];
        if (!Command) throw new Error(`no ${action}Command in the ${service} client`);
        mock.on(Command as any).callsFake((input: any) => this.answer(service, action, input, handler));
      }
      this.mocks.push(mock);
    };
    install('sts', sts.STSClient, sts);
    install('iam', iam.IAMClient, iam);
    install('ecr', ecr.ECRClient, ecr);
    install('eb', eb.ElasticBeanstalkClient, eb);
    install('s3', s3.S3Client, s3);
    install('ssm', ssm.SSMClient, ssm);
    install('rds', rds.RDSClient, rds);
    install('efs', efs.EFSClient, efs);
    install('ec2', ec2.EC2Client, ec2);
    return this;
  }

  restore(): void {
    for (const mock of this.mocks) mock.restore();
    this.mocks = [];
  }

  mutations(): FakeCall[] {
    return this.calls.filter((call) => !isReadOnly(call.action));
  }

  callsOf(action: string): FakeCall[] {
    return this.calls.filter((call) => call.action === action);
  }

  /** A snapshot of the state, to compare before and after. */
  snapshot(): string {
    return JSON.stringify(this.state);
  }

  environment(name: string) {
    return this.state.environments[name];
  }

  private async answer(service: ServiceName, action: string, input: any, handler: Handler) {
    this.calls.push({ service, action, input });
    const throttles = this.throttled.get(action) ?? 0;
    if (throttles > 0) {
      this.throttled.set(action, throttles - 1);
      throw serviceError(service, service === 'eb' ? 'Throttling' : 'ThrottlingException', 'Rate exceeded');
    }
    const failure = this.failures.get(action);
    if (failure && failure.times > 0) {
      failure.times -= 1;
      throw serviceError(service, failure.name, failure.message);
    }
    if (this.denied.has(action)) {
      const name =
        service === 'ec2'
          ? 'UnauthorizedOperation'
          : service === 's3'
            ? 'AccessDenied'
            : 'AccessDeniedException';
      throw serviceError(service, name, `User is not authorized to perform: ${action}`);
    }
    return structuredClone(handler(input));
  }

  private id(prefix: string): string {
    this.counter += 1;
    return `${prefix}-${String(this.counter).padStart(8, '0')}`;
  }

  private event(environment: string, severity: string, message: string): void {
    // Strictly increasing, and never before the caller's "since" (taken from the real clock).
    this.clock = Math.max(this.clock + 1, Date.now());
    this.state.events.push({ date: new Date(this.clock).toISOString(), severity, message, environment });
  }

  private environmentDescription(env: FakeState['environments'][string]): eb.EnvironmentDescription {
    return {
      EnvironmentName: env.name,
      ApplicationName: env.application,
      Status: env.status as eb.EnvironmentStatus,
      Health: env.health as eb.EnvironmentHealth,
      HealthStatus: env.health === 'Green' ? 'Ok' : 'Severe',
      VersionLabel: env.version,
      CNAME: env.cname,
    };
  }

  /** One DescribeEnvironments: an environment in transition moves one step towards its end. */
  private advance(env: FakeState['environments'][string]): void {
    if (!['Launching', 'Updating', 'Terminating'].includes(env.status)) return;
    env.pending -= 1;
    if (env.pending > 0) {
      this.event(env.name, 'INFO', `${env.status}: instance deployment in progress.`);
      return;
    }
    if (env.status === 'Terminating') {
      env.status = 'Terminated';
      this.event(env.name, 'INFO', 'terminateEnvironment completed successfully.');
      return;
    }
    env.status = 'Ready';
    if (env.failNextUpdate) {
      env.failNextUpdate = false;
      env.health = 'Red';
      env.version = env.previousVersion;
      this.event(env.name, 'ERROR', 'Instance deployment failed. For details, see eb-engine.log.');
      this.event(env.name, 'ERROR', 'Failed to deploy application.');
      return;
    }
    env.health = 'Green';
    this.event(env.name, 'INFO', 'Environment update completed successfully.');
  }

  private handlers(): Record<ServiceName, Record<string, Handler>> {
    const s = () => this.state;
    const notFound = (service: ServiceName, name: string, message: string): never => {
      throw serviceError(service, name, message);
    };
    const byFilter = (filters: ec2.Filter[] | undefined, name: string) =>
      filters?.find((f) => f.Name === name)?.Values;
    const sameRule = (a: ec2.IpPermission, b: ec2.IpPermission) => JSON.stringify(a) === JSON.stringify(b);
    const splitRules = (permissions: ec2.IpPermission[]) =>
      permissions.flatMap((p) => [
        ...(p.IpRanges ?? []).map((r) => ({
          IpProtocol: p.IpProtocol,
          FromPort: p.FromPort,
          ToPort: p.ToPort,
          IpRanges: [r],
        })),
        ...(p.UserIdGroupPairs ?? []).map((g) => ({
          IpProtocol: p.IpProtocol,
          FromPort: p.FromPort,
          ToPort: p.ToPort,
          UserIdGroupPairs: [{ GroupId: g.GroupId }],
        })),
      ]);
    return {
      sts: {
        GetCallerIdentity: () => {
          if (this.noCredentials) {
            const err = new Error('Could not load credentials from any providers');
            err.name = 'CredentialsProviderError';
            throw err;
          }
          return { Account: this.account, Arn: `arn:aws:iam::${this.account}:user/deployer`, UserId: 'AIDA' };
        },
      },
      iam: {
        GetRole: ({ RoleName }) =>
          s().roles[RoleName]
            ? { Role: { RoleName, Arn: `arn:aws:iam::${this.account}:role/${RoleName}` } }
            : notFound('iam', 'NoSuchEntityException', `The role with name ${RoleName} cannot be found.`),
        CreateRole: ({ RoleName, AssumeRolePolicyDocument }) => {
          s().roles[RoleName] = { attached: [], inline: {}, trust: AssumeRolePolicyDocument };
          return { Role: { RoleName } };
        },
        // Pages of one policy, to go through the paginator.
        ListAttachedRolePolicies: ({ RoleName, Marker }) => {
          const attached = s().roles[RoleName]?.attached ?? [];
          const index = Marker ? Number(Marker) : 0;
          return {
            AttachedPolicies: attached.slice(index, index + 1).map((arn) => ({ PolicyArn: arn })),
            IsTruncated: index + 1 < attached.length,
            Marker: index + 1 < attached.length ? String(index + 1) : undefined,
          };
        },
        AttachRolePolicy: ({ RoleName, PolicyArn }) => {
          must(s().roles[RoleName]).attached.push(PolicyArn);
          return {};
        },
        GetRolePolicy: ({ RoleName, PolicyName }) => {
          const document = s().roles[RoleName]?.inline[PolicyName];
          return document
            ? { RoleName, PolicyName, PolicyDocument: encodeURIComponent(document) }
            : notFound('iam', 'NoSuchEntityException', `The role policy ${PolicyName} cannot be found.`);
        },
        PutRolePolicy: ({ RoleName, PolicyName, PolicyDocument }) => {
          must(s().roles[RoleName]).inline[PolicyName] = PolicyDocument;
          return {};
        },
        GetInstanceProfile: ({ InstanceProfileName }) =>
          s().profiles[InstanceProfileName]
            ? {
                InstanceProfile: {
                  InstanceProfileName,
                  Roles: must(s().profiles[InstanceProfileName]).map((RoleName) => ({ RoleName })),
                },
              }
            : notFound(
                'iam',
                'NoSuchEntityException',
                `Instance Profile ${InstanceProfileName} cannot be found.`,
              ),
        CreateInstanceProfile: ({ InstanceProfileName }) => {
          s().profiles[InstanceProfileName] = [];
          return {};
        },
        AddRoleToInstanceProfile: ({ InstanceProfileName, RoleName }) => {
          must(s().profiles[InstanceProfileName]).push(RoleName);
          return {};
        },
      },
      ecr: {
        DescribeRepositories: ({ repositoryNames }) => {
          const name = repositoryNames[0];
          const repository = s().repositories[name];
          return repository
            ? { repositories: [{ repositoryName: name, repositoryUri: repository.uri }] }
            : notFound('ecr', 'RepositoryNotFoundException', `The repository '${name}' does not exist`);
        },
        CreateRepository: ({ repositoryName }) => {
          const uri = `${this.account}.dkr.ecr.us-west-2.amazonaws.com/${repositoryName}`;
          s().repositories[repositoryName] = { uri };
          return { repository: { repositoryName, repositoryUri: uri } };
        },
        GetRepositoryPolicy: ({ repositoryName }) => {
          const policy = s().repositories[repositoryName]?.policy;
          return policy
            ? { policyText: policy }
            : notFound('ecr', 'RepositoryPolicyNotFoundException', 'Repository policy does not exist');
        },
        SetRepositoryPolicy: ({ repositoryName, policyText }) => {
          must(s().repositories[repositoryName]).policy = policyText;
          return {};
        },
        GetAuthorizationToken: () => {
          this.counter += 1;
          return {
            authorizationData: [
              {
                authorizationToken: Buffer.from(`AWS:ecr-password-${this.counter}`).toString('base64'),
                proxyEndpoint: `https://${this.account}.dkr.ecr.us-west-2.amazonaws.com`,
                expiresAt: new Date(Date.now() + 12 * 3600_000),
              },
            ],
          };
        },
        DeleteRepository: ({ repositoryName }) => {
          delete s().repositories[repositoryName];
          return {};
        },
      },
      ssm: {
        GetParameter: ({ Name }) => {
          const parameter = s().parameters[Name];
          return parameter
            ? { Parameter: { Name, Type: parameter.type, Value: parameter.value } }
            : notFound('ssm', 'ParameterNotFound', `Parameter ${Name} not found.`);
        },
        PutParameter: ({ Name, Value, Type }) => {
          s().parameters[Name] = { value: Value, type: Type };
          return { Version: 1 };
        },
        DeleteParameter: ({ Name }) => {
          if (!s().parameters[Name]) notFound('ssm', 'ParameterNotFound', `Parameter ${Name} not found.`);
          delete s().parameters[Name];
          return {};
        },
      },
      ec2: {
        DescribeVpcs: () => ({ Vpcs: [{ VpcId: this.vpcId, IsDefault: true }] }),
        // One subnet a page, to go through the paginator.
        DescribeSubnets: ({ NextToken }) => {
          const index = NextToken ? Number(NextToken) : 0;
          const subnet = must(this.subnets[index]);
          return {
            Subnets: [{ SubnetId: subnet.id, AvailabilityZone: subnet.zone, VpcId: this.vpcId }],
            NextToken: index + 1 < this.subnets.length ? String(index + 1) : undefined,
          };
        },
        DescribeSecurityGroups: ({ Filters, GroupIds }) => {
          const names = byFilter(Filters, 'group-name');
          const groups = Object.entries(s().securityGroups).filter(
            ([id, group]) => (!names || names.includes(group.name)) && (!GroupIds || GroupIds.includes(id)),
          );
          return {
            SecurityGroups: groups.map(([id, group]) => ({
              GroupId: id,
              GroupName: group.name,
              VpcId: group.vpcId,
              IpPermissions: group.rules,
            })),
          };
        },
        CreateSecurityGroup: ({ GroupName, VpcId }) => {
          const id = this.id('sg');
          s().securityGroups[id] = { name: GroupName, vpcId: VpcId, rules: [] };
          return { GroupId: id };
        },
        AuthorizeSecurityGroupIngress: ({ GroupId, IpPermissions }) => {
          const group = must(s().securityGroups[GroupId]);
          for (const rule of splitRules(IpPermissions)) {
            if (group.rules.some((have) => sameRule(have, rule))) {
              throw serviceError('ec2', 'InvalidPermission.Duplicate', 'the rule already exists');
            }
            group.rules.push(rule);
          }
          return { Return: true };
        },
        RevokeSecurityGroupIngress: ({ GroupId, IpPermissions }) => {
          const group = must(s().securityGroups[GroupId]);
          const gone = splitRules(IpPermissions);
          group.rules = group.rules.filter((rule) => !gone.some((other) => sameRule(rule, other)));
          return { Return: true };
        },
        DeleteSecurityGroup: ({ GroupId }) => {
          delete s().securityGroups[GroupId];
          return {};
        },
      },
      rds: {
        DescribeDBInstances: ({ DBInstanceIdentifier }) => {
          const found = s().databases[DBInstanceIdentifier];
          const db =
            found ??
            notFound('rds', 'DBInstanceNotFoundFault', `DBInstance ${DBInstanceIdentifier} not found.`);
          if (db.status === 'creating' || db.status === 'deleting') {
            db.pending -= 1;
            if (db.pending <= 0 && db.status === 'creating') db.status = 'available';
            else if (db.pending <= 0) {
              delete s().databases[DBInstanceIdentifier];
              notFound('rds', 'DBInstanceNotFoundFault', `DBInstance ${DBInstanceIdentifier} not found.`);
            }
          }
          return {
            DBInstances: [
              {
                DBInstanceIdentifier,
                DBInstanceStatus: db.status,
                DBName: db.input.DBName,
                MasterUsername: db.input.MasterUsername,
                Endpoint:
                  db.status === 'available'
                    ? { Address: `${DBInstanceIdentifier}.rds.example`, Port: 5432 }
                    : undefined,
              },
            ],
          };
        },
        CreateDBInstance: (input) => {
          s().databases[input.DBInstanceIdentifier] = {
            status: 'creating',
            pending: this.creatingDescribes,
            password: input.MasterUserPassword,
            input: { ...input, MasterUserPassword: undefined },
          };
          return {
            DBInstance: { DBInstanceIdentifier: input.DBInstanceIdentifier, DBInstanceStatus: 'creating' },
          };
        },
        DeleteDBInstance: ({ DBInstanceIdentifier }) => {
          const db = must(s().databases[DBInstanceIdentifier]);
          db.status = 'deleting';
          db.pending = 1;
          return {};
        },
      },
      efs: {
        DescribeFileSystems: ({ CreationToken }) => {
          const found = Object.entries(s().fileSystems).filter(([, fs]) => fs.token === CreationToken);
          for (const [, fs] of found) {
            if (fs.state === 'creating' && --fs.pending <= 0) fs.state = 'available';
          }
          return {
            FileSystems: found.map(([id, fs]) => ({
              FileSystemId: id,
              CreationToken: fs.token,
              LifeCycleState: fs.state,
            })),
          };
        },
        CreateFileSystem: ({ CreationToken }) => {
          const id = this.id('fs');
          s().fileSystems[id] = { token: CreationToken, state: 'creating', pending: this.creatingDescribes };
          return { FileSystemId: id, LifeCycleState: 'creating' };
        },
        DescribeMountTargets: ({ FileSystemId }) => {
          const targets = Object.entries(s().mountTargets).filter(
            ([, target]) => target.fileSystem === FileSystemId,
          );
          for (const [id, target] of targets) {
            if (target.state === 'creating' && --target.pending <= 0) target.state = 'available';
            if (target.state === 'deleting') delete s().mountTargets[id];
          }
          return {
            MountTargets: targets
              .filter(([id]) => s().mountTargets[id])
              .map(([id, target]) => ({
                MountTargetId: id,
                FileSystemId,
                SubnetId: target.subnet,
                AvailabilityZoneName: target.zone,
                LifeCycleState: target.state,
              })),
          };
        },
        CreateMountTarget: ({ FileSystemId, SubnetId }) => {
          const subnet = this.subnets.find((item) => item.id === SubnetId);
          const zone = subnet?.zone ?? '';
          if (Object.values(s().mountTargets).some((t) => t.fileSystem === FileSystemId && t.zone === zone)) {
            throw serviceError('efs', 'MountTargetConflict', `a mount target exists in ${zone}`);
          }
          const id = this.id('fsmt');
          s().mountTargets[id] = {
            fileSystem: FileSystemId,
            subnet: SubnetId,
            zone,
            state: 'creating',
            pending: 1,
          };
          return { MountTargetId: id };
        },
        DeleteMountTarget: ({ MountTargetId }) => {
          must(s().mountTargets[MountTargetId]).state = 'deleting';
          return {};
        },
        DeleteFileSystem: ({ FileSystemId }) => {
          if (Object.values(s().mountTargets).some((t) => t.fileSystem === FileSystemId)) {
            throw serviceError('efs', 'FileSystemInUse', 'the file system has mount targets');
          }
          delete s().fileSystems[FileSystemId];
          return {};
        },
      },
      s3: {
        HeadObject: ({ Bucket, Key }) =>
          s().objects[`${Bucket}/${Key}`] !== undefined
            ? { ContentLength: s().objects[`${Bucket}/${Key}`] }
            : notFound('s3', 'NotFound', 'Not Found'),
        HeadBucket: ({ Bucket }) =>
          s().buckets.includes(Bucket) ? {} : notFound('s3', 'NotFound', 'Not Found'),
        PutObject: ({ Bucket, Key, Body }) => {
          if (!s().buckets.includes(Bucket))
            notFound('s3', 'NoSuchBucket', 'The specified bucket does not exist');
          s().objects[`${Bucket}/${Key}`] = (Body as Uint8Array).byteLength;
          return { ETag: '"etag"' };
        },
        DeleteObject: ({ Bucket, Key }) => {
          delete s().objects[`${Bucket}/${Key}`];
          return {};
        },
      },
      eb: {
        CreateStorageLocation: () => {
          const bucket = `elasticbeanstalk-us-west-1-${this.account}`;
          if (!s().buckets.includes(bucket)) s().buckets.push(bucket);
          return { S3Bucket: bucket };
        },
        DescribeApplications: ({ ApplicationNames }) => ({
          Applications: s()
            .applications.filter((name) => ApplicationNames.includes(name))
            .map((ApplicationName) => ({ ApplicationName })),
        }),
        CreateApplication: ({ ApplicationName }) => {
          s().applications.push(ApplicationName);
          return { Application: { ApplicationName } };
        },
        DeleteApplication: ({ ApplicationName }) => {
          if (
            Object.values(s().environments).some(
              (env) => env.application === ApplicationName && env.status !== 'Terminated',
            )
          ) {
            throw serviceError(
              'eb',
              'InvalidParameterValue',
              'Unable to delete application: environments are running',
            );
          }
          s().applications = s().applications.filter((name) => name !== ApplicationName);
          return {};
        },
        DescribeApplicationVersions: ({ ApplicationName, VersionLabels }) => ({
          ApplicationVersions: (VersionLabels as string[])
            .filter((label) => s().versions[`${ApplicationName}/${label}`])
            .map((VersionLabel) => ({ ApplicationName, VersionLabel })),
        }),
        CreateApplicationVersion: ({ ApplicationName, VersionLabel, SourceBundle }) => {
          s().versions[`${ApplicationName}/${VersionLabel}`] = {
            bucket: SourceBundle.S3Bucket,
            key: SourceBundle.S3Key,
          };
          return {};
        },
        DeleteApplicationVersion: ({ ApplicationName, VersionLabel }) => {
          delete s().versions[`${ApplicationName}/${VersionLabel}`];
          return {};
        },
        ListAvailableSolutionStacks: () => ({
          SolutionStacks: [
            '64bit Amazon Linux 2 v4.1.0 running Docker',
            '64bit Amazon Linux 2023 v4.4.1 running Docker',
            '64bit Amazon Linux 2023 v6.1.0 running Node.js 20',
          ],
        }),
        DescribeEnvironments: ({ ApplicationName, EnvironmentNames }) => {
          const found = Object.values(s().environments).filter(
            (env) =>
              (!EnvironmentNames || EnvironmentNames.includes(env.name)) &&
              (!ApplicationName || env.application === ApplicationName),
          );
          for (const env of found) this.advance(env);
          return { Environments: found.map((env) => this.environmentDescription(env)) };
        },
        CreateEnvironment: ({ ApplicationName, EnvironmentName, VersionLabel, OptionSettings }) => {
          const options: Record<string, string> = {};
          for (const o of OptionSettings as eb.ConfigurationOptionSetting[])
            options[`${o.Namespace}|${o.OptionName}`] = o.Value ?? '';
          s().environments[EnvironmentName] = {
            application: ApplicationName,
            name: EnvironmentName,
            status: 'Launching',
            health: 'Grey',
            version: VersionLabel,
            cname: `${EnvironmentName}.us-west-1.elasticbeanstalk.com`,
            options,
            pending: this.transitionDescribes,
          };
          this.event(EnvironmentName, 'INFO', 'createEnvironment is starting.');
          return { EnvironmentName, Status: 'Launching' };
        },
        UpdateEnvironment: ({ EnvironmentName, VersionLabel, OptionSettings }) => {
          const env = must(s().environments[EnvironmentName]);
          env.previousVersion = env.version;
          env.version = VersionLabel ?? env.version;
          for (const o of (OptionSettings ?? []) as eb.ConfigurationOptionSetting[]) {
            env.options[`${o.Namespace}|${o.OptionName}`] = o.Value ?? '';
          }
          env.status = 'Updating';
          env.pending = this.transitionDescribes;
          this.event(EnvironmentName, 'INFO', 'Environment update is starting.');
          return { EnvironmentName, Status: 'Updating' };
        },
        TerminateEnvironment: ({ EnvironmentName }) => {
          const env = must(s().environments[EnvironmentName]);
          env.status = 'Terminating';
          env.pending = this.transitionDescribes;
          return {};
        },
        DescribeConfigurationSettings: ({ EnvironmentName }) => ({
          ConfigurationSettings: [
            {
              OptionSettings: Object.entries(must(s().environments[EnvironmentName]).options).map(
                ([key, Value]) => {
                  const [Namespace, OptionName] = key.split('|');
                  return { Namespace, OptionName, Value };
                },
              ),
            },
          ],
        }),
        // Two events a page (newest first, as EB answers), to go through NextToken.
        DescribeEvents: ({ EnvironmentName, StartTime, NextToken }) => {
          const since = StartTime ? new Date(StartTime).getTime() : 0;
          const all = s()
            .events.filter((e) => e.environment === EnvironmentName && Date.parse(e.date) >= since)
            .reverse();
          const index = NextToken ? Number(NextToken) : 0;
          return {
            Events: all.slice(index, index + 2).map((e) => ({
              EventDate: new Date(e.date),
              Severity: e.severity as eb.EventSeverity,
              Message: e.message,
              EnvironmentName,
            })),
            NextToken: index + 2 < all.length ? String(index + 2) : undefined,
          };
        },
      },
    };
  }

  /** The environment as its options now say (for assertions). */
  optionsOf(name: string): Record<string, string> {
    return this.state.environments[name]?.options ?? {};
  }
}
