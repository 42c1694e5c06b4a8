import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { readDeployFile } from './deploy-file.js';
import { type Harness, harness, TOKEN } from './doubles/harness.js';
import { DeployError } from './errors.js';
import { HEALTH_CHECK_PATH } from './options.js';
import { INSTANCE_POLICIES, INSTANCE_ROLE, SERVICE_ROLE } from './roles.js';
import { DEPLOY_FILE } from './settings.js';

let h: Harness;
beforeEach(() => {
  h = harness();
});
afterEach(() => h.close());

const groupNamed = (name: string) => {
  const entry = Object.entries(h.fake.state.securityGroups).find(([, group]) => group.name === name);
  assert.ok(entry, `security group ${name}`);
  return { id: entry[0], ...entry[1] };
};
const rulesOf = (name: string) =>
  groupNamed(name)
    .rules.map(
      (rule) => `${rule.FromPort}<${rule.IpRanges?.[0]?.CidrIp ?? rule.UserIdGroupPairs?.[0]?.GroupId}`,
    )
    .sort();

test('a first deploy creates everything, with the ports, the token in SSM only, and waits for Ready', async () => {
  const result = await h.deploy({ database: true, efs: true });
  const { fake } = h;

  // Roles as the EB CLI makes them, with registry pulls; the instance profile.
  assert.deepEqual(fake.state.roles[INSTANCE_ROLE]?.attached.sort(), [...INSTANCE_POLICIES].sort());
  assert.ok(
    fake.state.roles[INSTANCE_ROLE]?.attached.includes(
      'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly',
    ),
  );
  assert.ok(fake.state.roles[SERVICE_ROLE]);
  assert.deepEqual(fake.state.profiles[INSTANCE_ROLE], [INSTANCE_ROLE]);

  // Repositories in the registry region, each letting the instance role pull.
  for (const name of ['sifu', 'sifu-notebook']) {
    const repository = fake.state.repositories[name];
    assert.ok(repository?.uri.includes('.dkr.ecr.us-west-2.'), name);
    assert.equal(
      JSON.parse(repository?.policy ?? '{}').Statement[0].Principal.AWS,
      `arn:aws:iam::${fake.account}:role/${INSTANCE_ROLE}`,
    );
  }
  assert.equal(h.publisher.logins.length, 1);

  // The token: a SecureString, and nowhere else.
  assert.deepEqual(fake.state.parameters['/sifu/deployment-token'], { value: TOKEN, type: 'SecureString' });
  const create = fake.callsOf('CreateEnvironment')[0]?.input;
  assert.ok(create);
  assert.ok(!JSON.stringify(create).includes(TOKEN), 'no EB option setting holds the token');
  for (const call of fake.calls.filter((c) => c.action !== 'PutParameter')) {
    assert.ok(!JSON.stringify(call.input ?? {}).includes(TOKEN), `${call.action} does not carry the token`);
  }
  assert.ok(!h.lines.join('\n').includes(TOKEN), 'the output never shows the token');
  assert.ok(!readFileSync(join(h.directory, DEPLOY_FILE), 'utf8').includes(TOKEN));

  // Listeners, processes and health checks; Sifu's ports in its environment.
  const options = h.fake.optionsOf('sifu-env');
  assert.equal(options['aws:elbv2:listener:3334|DefaultProcess'], 'hub');
  assert.equal(options['aws:elbv2:listener:3335|DefaultProcess'], 'notebook');
  assert.equal(options['aws:elbv2:listener:default|DefaultProcess'], 'default');
  assert.equal(options['aws:elasticbeanstalk:environment:process:default|Port'], '3334');
  assert.equal(options['aws:elasticbeanstalk:environment:process:notebook|Port'], '3335');
  assert.equal(
    options['aws:elasticbeanstalk:environment:process:notebook|HealthCheckPath'],
    HEALTH_CHECK_PATH,
  );
  assert.equal(options['aws:elasticbeanstalk:environment:process:hub|HealthCheckPath'], '/hub/health');
  assert.equal(options['aws:elasticbeanstalk:application:environment|SIFU_HUB_PORT'], '3334');
  assert.equal(options['aws:elasticbeanstalk:application:environment|SIFU_NOTEBOOK_PORT'], '3335');
  assert.equal(options['aws:elasticbeanstalk:application:environment|SIFU_CLUSTER_RELAY_PORT'], '3336');
  assert.equal(
    options['aws:elasticbeanstalk:application:environment|SIFU_DEPLOYMENT_TOKEN_PARAMETER'],
    '/sifu/deployment-token',
  );
  assert.equal(options['aws:autoscaling:launchconfiguration|IamInstanceProfile'], INSTANCE_ROLE);
  assert.equal(options['aws:elasticbeanstalk:environment|ServiceRole'], SERVICE_ROLE);
  assert.match(
    fake.callsOf('CreateEnvironment')[0]?.input.SolutionStackName,
    /Amazon Linux 2023 .*running Docker$/,
  );

  // Security groups: the relay only between instances, hub and notebooks only from the ALB, data from instances.
  const alb = groupNamed('sifu-sifu-env-alb');
  const instances = groupNamed('sifu-sifu-env-instances');
  assert.deepEqual(rulesOf('sifu-sifu-env-alb'), ['3334<0.0.0.0/0', '3335<0.0.0.0/0', '80<0.0.0.0/0']);
  assert.deepEqual(rulesOf('sifu-sifu-env-instances'), [
    `3334<${alb.id}`,
    `3335<${alb.id}`,
    `3336<${instances.id}`,
  ]);
  assert.deepEqual(rulesOf('sifu-sifu-env-data'), [`2049<${instances.id}`, `5432<${instances.id}`]);
  assert.equal(options['aws:autoscaling:launchconfiguration|SecurityGroups'], instances.id);

  // RDS and EFS, waited for through their creating states; one mount target per zone.
  assert.equal(fake.state.databases['sifu-sifu-env']?.status, 'available');
  assert.equal(fake.state.parameters['/sifu/sifu-env/database-password']?.type, 'SecureString');
  const password = fake.state.parameters['/sifu/sifu-env/database-password']?.value ?? '';
  assert.ok(!JSON.stringify(create).includes(password), 'the database password is not an EB property');
  assert.equal(
    options['aws:elasticbeanstalk:application:environment|RDS_HOSTNAME'],
    'sifu-sifu-env.rds.example',
  );
  assert.equal(
    options['aws:elasticbeanstalk:application:environment|RDS_PASSWORD_PARAMETER'],
    '/sifu/sifu-env/database-password',
  );
  const [fsId, fs] = Object.entries(fake.state.fileSystems)[0] ?? [];
  assert.equal(fs?.state, 'available');
  assert.equal(options['aws:elasticbeanstalk:application:environment|SIFU_EFS_FILE_SYSTEM_ID'], fsId);
  const targets = Object.values(fake.state.mountTargets);
  assert.deepEqual(targets.map((t) => t.zone).sort(), ['us-west-1a', 'us-west-1c']);
  assert.ok(targets.every((t) => t.state === 'available'));

  // Bundle uploaded, version from its hash; the environment went Launching -> Ready, events shown (paged).
  assert.equal(Object.keys(fake.state.objects).length, 1);
  assert.equal(fake.callsOf('CreateApplicationVersion')[0]?.input.VersionLabel, result.label);
  assert.equal(fake.environment('sifu-env')?.status, 'Ready');
  assert.ok(fake.callsOf('DescribeEnvironments').length >= 3);
  assert.ok(
    fake.callsOf('DescribeEvents').some((call) => call.input.NextToken),
    'events are paged',
  );
  assert.ok(h.lines.some((line) => line.includes('createEnvironment is starting.')));
  assert.ok(h.lines.some((line) => line.includes('environment sifu-env: Launching')));
  assert.ok(h.lines.some((line) => line.includes('hub: http://sifu-env.us-west-1.elasticbeanstalk.com/')));
  assert.ok(fake.callsOf('ListAttachedRolePolicies').length === 0, 'new roles need no listing');

  // The deployment file: the settings and what was made.
  const file = readDeployFile(h.directory);
  assert.deepEqual(file?.settings.ports, { hub: 3334, notebook: 3335, relay: 3336 });
  assert.equal(file?.settings.database, true);
  assert.equal(file?.created.environment, 'sifu-env');
  assert.deepEqual(file?.created.repositories.sort(), ['sifu', 'sifu-notebook']);
});

test('a second run with nothing changed makes no mutating call', async () => {
  await h.deploy({ database: true, efs: true });
  h.fake.calls = [];
  const result = await h.deploy();
  assert.deepEqual(h.fake.mutations(), []);
  assert.equal(result.changed, false);
  assert.ok(h.fake.callsOf('ListAttachedRolePolicies').length >= 2, 'existing roles are listed (paged)');
  assert.ok(h.lines.some((line) => line.includes('nothing to update')));
});

test('existing resources are reused: a new working directory creates nothing', async () => {
  await h.deploy({ efs: true });
  h.fake.calls = [];
  const elsewhere = mkdtempSync(join(tmpdir(), 'sifu-deploy-other-'));
  try {
    await h.deploy({ directory: elsewhere, efs: true });
    assert.deepEqual(h.fake.mutations(), []);
    const file = readDeployFile(elsewhere);
    assert.equal(file?.created.environment, undefined, 'nothing is recorded as made by this run');
    assert.deepEqual(file?.created.repositories, []);
    assert.equal(file?.created.fileSystem, undefined);
  } finally {
    rmSync(elsewhere, { recursive: true, force: true });
  }
});

test('changed ports update the listeners, processes, security groups and the deployment file', async () => {
  await h.deploy();
  const before = h.fake.environment('sifu-env')?.version;
  h.fake.calls = [];
  const result = await h.deploy({ hubPort: 8080, notebookPort: 8081 });
  const update = h.fake.callsOf('UpdateEnvironment')[0]?.input;
  assert.ok(update, 'the environment is updated');
  assert.notEqual(result.label, before, 'a new version (the bundle changed)');
  const options = h.fake.optionsOf('sifu-env');
  assert.equal(options['aws:elbv2:listener:8080|DefaultProcess'], 'hub');
  assert.equal(options['aws:elbv2:listener:8081|DefaultProcess'], 'notebook');
  assert.equal(options['aws:elbv2:listener:3334|ListenerEnabled'], 'false', 'the old listener is disabled');
  assert.equal(options['aws:elbv2:listener:3335|ListenerEnabled'], 'false');
  assert.equal(options['aws:elasticbeanstalk:environment:process:default|Port'], '8080');
  assert.equal(options['aws:elasticbeanstalk:environment:process:notebook|Port'], '8081');
  assert.equal(options['aws:elasticbeanstalk:application:environment|SIFU_HUB_PORT'], '8080');
  const alb = groupNamed('sifu-sifu-env-alb');
  const instances = groupNamed('sifu-sifu-env-instances');
  assert.deepEqual(rulesOf('sifu-sifu-env-instances'), [
    `3336<${instances.id}`,
    `8080<${alb.id}`,
    `8081<${alb.id}`,
  ]);
  assert.deepEqual(rulesOf('sifu-sifu-env-alb'), ['8080<0.0.0.0/0', '8081<0.0.0.0/0', '80<0.0.0.0/0']);
  assert.ok(h.fake.callsOf('RevokeSecurityGroupIngress').length >= 2);
  assert.deepEqual(readDeployFile(h.directory)?.settings.ports, { hub: 8080, notebook: 8081, relay: 3336 });
  assert.equal(h.fake.environment('sifu-env')?.version, result.label);
});

test('an expired registry login is replaced by a fresh one and the push retried', async () => {
  h.publisher.refuseLogins = 1;
  await h.deploy();
  assert.equal(h.fake.callsOf('GetAuthorizationToken').length, 2);
  assert.equal(h.publisher.logins.length, 2);
  assert.notEqual(h.publisher.logins[0]?.password, h.publisher.logins[1]?.password);
  assert.equal(h.publisher.logins[1]?.username, 'AWS');
  assert.ok(
    !h.lines.join('\n').includes(h.publisher.logins[1]?.password ?? '-'),
    'the password is never printed',
  );
});

test('a login refused twice fails the images step', async () => {
  h.publisher.refuseLogins = 2;
  await assert.rejects(h.deploy(), (err: DeployError) => err instanceof DeployError && err.step === 'images');
});

test('a missing permission fails its step with a clear error naming the permission', async () => {
  h.fake.deny('CreateRepository');
  await assert.rejects(h.deploy(), (err: Error) => {
    assert.ok(err instanceof DeployError);
    assert.equal(err.step, 'ECR repositories');
    assert.match(err.message, /ecr:CreateRepository/);
    assert.match(err.message, /AccessDeniedException/);
    return true;
  });
  assert.equal(h.fake.callsOf('CreateEnvironment').length, 0, 'nothing after the failed step');
});

test('an EC2 UnauthorizedOperation names ec2:CreateSecurityGroup', async () => {
  h.fake.deny('CreateSecurityGroup');
  await assert.rejects(h.deploy(), /network: AWS refused ec2:CreateSecurityGroup \(UnauthorizedOperation\)/);
});

test('missing credentials: a clear error, nothing else sent', async () => {
  h.fake.noCredentials = true;
  await assert.rejects(h.deploy(), (err: Error) => {
    assert.ok(err instanceof DeployError);
    assert.equal(err.step, 'credentials');
    assert.match(err.message, /no AWS credentials found: set AWS_PROFILE/);
    return true;
  });
  assert.deepEqual(
    h.fake.calls.map((call) => call.action),
    ['GetCallerIdentity'],
  );
  assert.ok(!existsSync(join(h.directory, DEPLOY_FILE)), 'no deployment file: the next run still asks');
});

test('a failed environment update prints the events and fails', async () => {
  await h.deploy();
  const good = h.fake.environment('sifu-env')?.version;
  const env = h.fake.environment('sifu-env');
  assert.ok(env);
  env.failNextUpdate = true;
  h.lines.length = 0;
  await assert.rejects(h.deploy({ hubPort: 9000 }), (err: Error) => {
    assert.ok(err instanceof DeployError);
    assert.equal(err.step, 'deploy');
    assert.match(err.message, /did not take/);
    assert.match(err.message, /--version-label/);
    return true;
  });
  assert.ok(h.lines.some((line) => line.includes('FAILED: ERROR Failed to deploy application.')));
  assert.equal(h.fake.environment('sifu-env')?.version, good, 'EB kept the old version');
});

test('a throttled call is retried with backoff', async () => {
  h.fake.throttle('DescribeEnvironments', 2);
  h.fake.throttle('CreateRepository', 1);
  await h.deploy();
  assert.equal(h.fake.environment('sifu-env')?.status, 'Ready');
  assert.equal(h.fake.callsOf('CreateRepository').length, 3, 'one throttled, then the two repositories');
});

test('a role IAM has not propagated yet is waited for (repository policy, environment creation)', async () => {
  h.fake.fail(
    'SetRepositoryPolicy',
    'InvalidParameterException',
    "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy provided'",
    2,
  );
  h.fake.fail(
    'CreateEnvironment',
    'InvalidParameterValue',
    'The instance profile aws-elasticbeanstalk-ec2-role associated with the environment does not exist.',
  );
  await h.deploy();
  assert.equal(h.fake.callsOf('SetRepositoryPolicy').length, 4, 'two refused, then both repositories');
  assert.equal(h.fake.callsOf('CreateEnvironment').length, 2);
  assert.equal(h.fake.environment('sifu-env')?.status, 'Ready');
});

test('--dry-run prints every mutating call with secrets masked and changes nothing', async () => {
  const before = h.fake.snapshot();
  const result = await h.deploy({ dryRun: true, database: true, efs: true });
  assert.equal(h.fake.snapshot(), before, 'the fake state is unchanged');
  assert.deepEqual(h.fake.mutations(), [], 'no mutating call reached AWS');
  assert.ok(!existsSync(join(h.directory, DEPLOY_FILE)), 'no deployment file written');
  const printed = h.lines.filter((line) => line.startsWith('[dry run] '));
  const actions = result.calls.map((call) => `${call.service} ${call.action}`);
  for (const expected of [
    'iam CreateRole',
    'iam AttachRolePolicy',
    'iam CreateInstanceProfile',
    'ssm PutParameter',
    'ec2 CreateSecurityGroup',
    'ec2 AuthorizeSecurityGroupIngress',
    'rds CreateDBInstance',
    'efs CreateFileSystem',
    'ecr CreateRepository',
    'ecr SetRepositoryPolicy',
    'eb CreateStorageLocation',
    's3 PutObject',
    'eb CreateApplication',
    'eb CreateApplicationVersion',
    'eb CreateEnvironment',
  ]) {
    assert.ok(actions.includes(expected), `${expected} is shown`);
  }
  assert.equal(printed.length, result.calls.length + 1);
  const all = h.lines.join('\n');
  assert.ok(!all.includes(TOKEN), 'the token is masked');
  assert.match(all, /ssm PutParameter \{"Name":"\/sifu\/deployment-token","Value":"\*\*\*"/);
  assert.match(all, /rds CreateDBInstance .*"MasterUserPassword":"\*\*\*"/);
  assert.match(all, /s3 PutObject .*"Body":"<\d+ bytes>"/);
});

test('the token comes from .deployment_token when DEPLOYMENT_TOKEN is unset; a terminal is asked otherwise', async () => {
  writeFileSync(join(h.directory, '.deployment_token'), 'from-file-token\n');
  await h.deploy({}, { env: {} });
  assert.equal(h.fake.state.parameters['/sifu/deployment-token']?.value, 'from-file-token');

  const asked: string[] = [];
  h.close();
  h = harness();
  const other = h;
  await other.deploy(
    { yes: false },
    {
      env: {},
      prompt: {
        interactive: true,
        ask: async (question, fallback) => {
          asked.push(question);
          return question === 'Hub port' ? '4000' : fallback;
        },
        askSecret: async () => 'typed-token',
      },
    },
  );
  assert.deepEqual(asked, ['EB application', 'EB environment', 'Hub port', 'Notebook port']);
  assert.equal(other.fake.state.parameters['/sifu/deployment-token']?.value, 'typed-token');
  assert.deepEqual(readDeployFile(other.directory)?.settings.ports.hub, 4000);
  assert.ok(!other.lines.join('\n').includes('typed-token'));
});

test('--version-label redeploys an existing version (a roll back) without building', async () => {
  const first = await h.deploy();
  await h.deploy({ hubPort: 8080 });
  h.fake.calls = [];
  h.publisher.logins = [];
  await h.deploy({ versionLabel: first.label });
  assert.equal(h.fake.environment('sifu-env')?.version, first.label);
  assert.equal(h.publisher.logins.length, 0, 'no images built or pushed');
  assert.equal(h.fake.callsOf('CreateApplicationVersion').length, 0);
  await assert.rejects(h.deploy({ versionLabel: 'sifu-nope' }), /no application version sifu-nope/);
});
