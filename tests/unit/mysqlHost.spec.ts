import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { AL2023_AMI_PARAMETERS, DATA_VOLUME_DEVICE_NAME, MysqlHost } from "../../components/mysqlHost";
import { CREATED_BY_TAG } from "../../components/policies";
import { ACCOUNT_ID, REGION, REPO_ROOT, inventory, invokes, one, settle, useMocks, value } from "./mocks";
import { actions, parsePolicy, statement } from "./policyAssertions";

const LOG_GROUP_ARN = `arn:aws:logs:${REGION}:${ACCOUNT_ID}:log-group:snapshots-output`;

describe("MysqlHost", () => {
    let host: MysqlHost;
    before(async () => {
        await useMocks("test");
        host = new MysqlHost("db", {
            vpcId: "vpc-1", subnetId: "subnet-1", associatePublicIpAddress: true, tagKey: "Backup", tagValue: "Primary",
            logGroupArn: LOG_GROUP_ARN, tags: { Team: "data" },
        });
        await settle();
    });

    it("declares exactly: role, SSM core attachment, inline policy, instance profile, security group, instance", () => {
        assert.deepEqual(inventory(), {
            "consistent-snapshots:index:MysqlHost": 1, "aws:iam/role:Role": 1, "aws:iam/rolePolicyAttachment:RolePolicyAttachment": 1,
            "aws:iam/rolePolicy:RolePolicy": 1, "aws:iam/instanceProfile:InstanceProfile": 1,
            "aws:ec2/securityGroup:SecurityGroup": 1, "aws:ec2/instance:Instance": 1,
        });
    });

    it("runs Amazon Linux 2023 from the public SSM parameter", () => {
        assert.ok(invokes.includes("aws:ssm/getParameter:getParameter"));
        assert.equal(one("aws:ec2/instance:Instance").inputs.ami, "ami-0abcdef1234567890");
        assert.match(AL2023_AMI_PARAMETERS.x86_64, /^\/aws\/service\/ami-amazon-linux-latest\/al2023-ami-kernel-default-x86_64$/);
    });

    it("requires IMDSv2 with a hop limit of 1", () => {
        const { metadataOptions } = one("aws:ec2/instance:Instance").inputs;
        assert.equal(metadataOptions.httpTokens, "required");
        assert.equal(metadataOptions.httpEndpoint, "enabled");
        assert.equal(metadataOptions.httpPutResponseHopLimit, 1);
    });

    it("encrypts the root volume and a separate gp3 data volume", () => {
        const { rootBlockDevice, ebsBlockDevices } = one("aws:ec2/instance:Instance").inputs;
        assert.equal(rootBlockDevice.encrypted, true);
        assert.equal(ebsBlockDevices.length, 1);
        assert.equal(ebsBlockDevices[0].encrypted, true);
        assert.equal(ebsBlockDevices[0].deviceName, DATA_VOLUME_DEVICE_NAME);
        assert.equal(ebsBlockDevices[0].volumeType, "gp3");
        assert.equal(ebsBlockDevices[0].volumeSize, 20);
    });

    it("has a security group with no ingress rule and only HTTPS out", () => {
        const sg = one("aws:ec2/securityGroup:SecurityGroup");
        assert.equal(sg.inputs.ingress, undefined);
        assert.deepEqual(sg.inputs.egress.map((r: Record<string, unknown>) => [r.protocol, r.fromPort, r.toPort]), [["tcp", 443, 443]]);
        assert.deepEqual(one("aws:ec2/instance:Instance").inputs.vpcSecurityGroupIds, [sg.id]);
    });

    it("carries the maintenance window's target tag", () => {
        const { tags } = one("aws:ec2/instance:Instance").inputs;
        assert.equal(tags.Backup, "Primary");
        assert.equal(tags.Team, "data");
        assert.deepEqual(host.targetTags, { Backup: "Primary" });
    });

    it("runs scripts/mysql-host-user-data.sh verbatim as user data, replacing the instance when it changes", () => {
        const { inputs } = one("aws:ec2/instance:Instance");
        assert.equal(inputs.userData, fs.readFileSync(path.join(REPO_ROOT, "scripts", "mysql-host-user-data.sh"), "utf8"));
        assert.equal(inputs.userDataReplaceOnChange, true);
    });

    it("user data creates a backup account with only RELOAD, PROCESS and BINLOG MONITOR, password never on a command line", () => {
        const userData = one("aws:ec2/instance:Instance").inputs.userData as string;
        assert.match(userData, /GRANT RELOAD, PROCESS, BINLOG MONITOR ON \*\.\* TO/);
        assert.match(userData, /\[client_consistent_snapshot\]/);
        // AL2023's mariadb105-server ships my.cnf.d/mariadb-server.cnf with datadir=/var/lib/mysql; the last file read wins.
        const cnf = /cat >\/etc\/my\.cnf\.d\/([^ ]+\.cnf) <<CNF/.exec(userData);
        assert.ok(cnf && cnf[1] > "mariadb-server.cnf", `the demo host's option file ${cnf?.[1]} sorts before mariadb-server.cnf`);
        assert.doesNotMatch(userData, /(mysql|mariadb)\s+[^<\n]*(-p|--password)/);
        assert.match(userData, /systemctl enable --now amazon-ssm-agent/);
    });

    it("assumes its role as EC2, with no condition AWS does not document for EC2, and AmazonSSMManagedInstanceCore (not AmazonEC2RoleforSSM)", () => {
        const trust = JSON.parse(one("aws:iam/role:Role").inputs.assumeRolePolicy);
        assert.deepEqual(trust.Statement, [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }]);
        assert.equal(one("aws:iam/rolePolicyAttachment:RolePolicyAttachment").inputs.policyArn,
            "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore");
    });

    it("allows exactly what the snapshot script calls, on this instance only, snapshots only with the creator tag", () => {
        const policy = parsePolicy(one("aws:iam/rolePolicy:RolePolicy").inputs.policy);
        assert.deepEqual(actions(policy), ["ec2:CreateSnapshots", "ec2:CreateTags", "ec2:DeleteSnapshot", "ec2:DescribeInstances", "ec2:DescribeSnapshots",
            "logs:CreateLogStream", "logs:DescribeLogGroups", "logs:DescribeLogStreams", "logs:PutLogEvents"]);
        assert.deepEqual(statement(policy, "SnapshotThisInstance").Resource, [`arn:aws:ec2:${REGION}:${ACCOUNT_ID}:instance/i-0db`]);
        assert.equal(statement(policy, "SnapshotItsVolumes").Resource, `arn:aws:ec2:${REGION}:${ACCOUNT_ID}:volume/*`);
        const create = statement(policy, "CreateTaggedSnapshots");
        assert.equal(create.Resource, `arn:aws:ec2:${REGION}::snapshot/*`);
        assert.deepEqual(create.Condition, { StringEquals: { [`aws:RequestTag/${CREATED_BY_TAG.key}`]: CREATED_BY_TAG.value } });
        const tag = statement(policy, "TagOnlyOnCreate");
        assert.deepEqual(tag.Action, ["ec2:CreateTags"]);
        assert.deepEqual(tag.Condition, { StringEquals: { "ec2:CreateAction": "CreateSnapshots" } });
        assert.deepEqual(statement(policy, "DescribeOwnVolumes").Condition, { StringEquals: { "aws:RequestedRegion": REGION } });
        assert.deepEqual(statement(policy, "WriteRunCommandOutput").Resource, [LOG_GROUP_ARN, `${LOG_GROUP_ARN}:log-stream:*`]);
        const deletion = statement(policy, "DeleteOwnSnapshots");
        assert.equal(deletion.Resource, `arn:aws:ec2:${REGION}::snapshot/*`);
        assert.deepEqual(deletion.Condition, { StringEquals: { [`aws:ResourceTag/${CREATED_BY_TAG.key}`]: CREATED_BY_TAG.value } });
        for (const s of policy.Statement) {
            if (s.Resource === "*") {
                assert.ok(["DescribeOwnVolumes", "ListSnapshots"].includes(s.Sid), `${s.Sid} on *`);
                assert.deepEqual(s.Condition, { StringEquals: { "aws:RequestedRegion": REGION } });
            }
        }
    });

    it("exports the instance id and ARN", async () => {
        assert.equal(await value(host.instanceId), "db-id");
        assert.match(await value(host.instanceArn), /:instance\/i-0db$/);
    });
});
