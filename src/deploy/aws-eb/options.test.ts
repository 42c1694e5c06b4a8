import assert from 'node:assert/strict';
import { test } from 'node:test';
import { changedOptions } from './options.js';

const o = (Namespace: string, OptionName: string, Value: string) => ({ Namespace, OptionName, Value });
const LC = 'aws:autoscaling:launchconfiguration';
const VPC = 'aws:ec2:vpc';

test('changedOptions: what an update must send', () => {
  const cases: {
    name: string;
    wanted: ReturnType<typeof o>[];
    current: ReturnType<typeof o>[];
    changes: ReturnType<typeof o>[];
  }[] = [
    {
      name: 'same values',
      wanted: [o(LC, 'InstanceType', 't3.medium')],
      current: [o(LC, 'InstanceType', 't3.medium')],
      changes: [],
    },
    {
      name: 'a changed value',
      wanted: [o(LC, 'InstanceType', 't3.large')],
      current: [o(LC, 'InstanceType', 't3.medium')],
      changes: [o(LC, 'InstanceType', 't3.large')],
    },
    {
      name: 'a missing value',
      wanted: [o(LC, 'InstanceType', 't3.large')],
      current: [],
      changes: [o(LC, 'InstanceType', 't3.large')],
    },
    {
      name: 'subnets in another order',
      wanted: [o(VPC, 'Subnets', 'subnet-a,subnet-b')],
      current: [o(VPC, 'Subnets', 'subnet-b, subnet-a')],
      changes: [],
    },
    {
      name: 'a subnet more is a change',
      wanted: [o(VPC, 'Subnets', 'subnet-a')],
      current: [o(VPC, 'Subnets', 'subnet-a,subnet-b')],
      changes: [o(VPC, 'Subnets', 'subnet-a')],
    },
    {
      name: "EB's own instance group beside ours",
      wanted: [o(LC, 'SecurityGroups', 'sg-1')],
      current: [o(LC, 'SecurityGroups', 'awseb-e-abc-stack-AWSEBSecurityGroup-XYZ,sg-1')],
      changes: [],
    },
    {
      name: 'another group is a change',
      wanted: [o(LC, 'SecurityGroups', 'sg-1')],
      current: [o(LC, 'SecurityGroups', 'sg-1,sg-2')],
      changes: [o(LC, 'SecurityGroups', 'sg-1')],
    },
    {
      name: "an old port's listener is disabled, the default one left alone",
      wanted: [o('aws:elbv2:listener:8080', 'ListenerEnabled', 'true')],
      current: [
        o('aws:elbv2:listener:8080', 'ListenerEnabled', 'true'),
        o('aws:elbv2:listener:3334', 'ListenerEnabled', 'true'),
        o('aws:elbv2:listener:3000', 'ListenerEnabled', 'false'),
        o('aws:elbv2:listener:default', 'ListenerEnabled', 'true'),
      ],
      changes: [o('aws:elbv2:listener:3334', 'ListenerEnabled', 'false')],
    },
  ];
  for (const { name, wanted, current, changes } of cases) {
    assert.deepEqual(changedOptions(wanted, current), changes, name);
  }
});
