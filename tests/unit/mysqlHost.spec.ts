import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { AL2023_AMI_PARAMETERS, DATA_VOLUME_DEVICE_NAME, MIN_SSM_AGENT_VERSION, MysqlHost, mysqlHostUserData } from "../../components/mysqlHost";
import { CREATED_BY_TAG } from "../../components/snapshotTags";
import { ACCOUNT_ID, REGION, REPO_ROOT, inventory, invokes, one, settle, useMocks, value } from "./mocks";
import { actions, parsePolicy, statement } from "./policyAssertions";

const LOG_GROUP_ARN = `arn:aws:logs:${REGION}:${ACCOUNT_ID}:log-group:snapshots-output`;

describe("MysqlHost", () => {
    let host: MysqlHost;
    before(async () => {
        await useMocks("test");
        host = new MysqlHost("db", {
            vpcId: "vpc-1",
            subnetId: "subnet-1",
            associatePublicIpAddress: true,
            tagKey: "Backup",
            tagValue: "Primary",
            logGroupArn: LOG_GROUP_ARN,
            tags: { Team: "data" },
        });
        await settle();
    });

    it("declares exactly: role, SSM core attachment, inline policy, instance profile, security group, instance, data volume and its attachment", () => {
        assert.deepEqual(inventory(), {
            "consistent-snapshots:index:MysqlHost": 1,
            "aws:iam/role:Role": 1,
            "aws:iam/rolePolicyAttachment:RolePolicyAttachment": 1,
            "aws:iam/rolePolicy:RolePolicy": 1,
            "aws:iam/instanceProfile:InstanceProfile": 1,
            "aws:ec2/securityGroup:SecurityGroup": 1,
            "aws:ec2/instance:Instance": 1,
            "aws:ebs/volume:Volume": 1,
            "aws:ec2/volumeAttachment:VolumeAttachment": 1,
        });
    });

    it("keeps the AMI it was created with: a new AL2023 release in the parameter does not replace the host", () => {
        assert.deepEqual(one("aws:ec2/instance:Instance").options.ignoreChanges, ["ami"]);
    });

    it("keeps the database on its own volume, in the subnet's zone, that survives the instance", () => {
        const volume = one("aws:ebs/volume:Volume");
        assert.equal(volume.inputs.availabilityZone, `${REGION}a`);
        assert.ok(invokes.includes("aws:ec2/getSubnet:getSubnet"));
        assert.equal(one("aws:ec2/instance:Instance").inputs.ebsBlockDevices, undefined, "no data volume inside the instance");
        const attachment = one("aws:ec2/volumeAttachment:VolumeAttachment");
        assert.deepEqual(
            [attachment.inputs.deviceName, attachment.inputs.volumeId, attachment.inputs.instanceId],
            [DATA_VOLUME_DEVICE_NAME, volume.id, "db-id"],
        );
        // One volume, one instance: a replacement host gets it only after the old one let go, stopped cleanly.
        assert.equal(attachment.options.deleteBeforeReplace, true);
        assert.equal(attachment.inputs.stopInstanceBeforeDetaching, true);
        assert.deepEqual([volume.options.protect, volume.options.retainOnDelete], [false, false]);
    });

    it("tags only its root device from the instance (the provider's volumeTags would fight the data volume's tags)", () => {
        const { inputs } = one("aws:ec2/instance:Instance");
        assert.equal(inputs.volumeTags, undefined);
        assert.deepEqual(inputs.rootBlockDevice.tags, { Team: "data", Name: "db-root" });
        assert.deepEqual(one("aws:ebs/volume:Volume").inputs.tags, { Team: "data", Name: "db-data" });
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
        const { rootBlockDevice } = one("aws:ec2/instance:Instance").inputs;
        assert.equal(rootBlockDevice.encrypted, true);
        assert.equal(rootBlockDevice.volumeType, "gp3");
        const volume = one("aws:ebs/volume:Volume").inputs;
        assert.deepEqual([volume.encrypted, volume.type, volume.size], [true, "gp3", 20]);
    });

    it("has a security group with no ingress rule and only HTTPS out", () => {
        const sg = one("aws:ec2/securityGroup:SecurityGroup");
        assert.equal(sg.inputs.ingress, undefined);
        assert.deepEqual(
            sg.inputs.egress.map((r: Record<string, unknown>) => [r.protocol, r.fromPort, r.toPort]),
            [["tcp", 443, 443]],
        );
        assert.deepEqual(one("aws:ec2/instance:Instance").inputs.vpcSecurityGroupIds, [sg.id]);
    });

    it("carries the maintenance window's target tag", () => {
        const { tags } = one("aws:ec2/instance:Instance").inputs;
        assert.equal(tags.Backup, "Primary");
        assert.equal(tags.Team, "data");
        assert.deepEqual(host.targetTags, { Backup: "Primary" });
    });

    it("runs scripts/mysql-host-user-data.sh verbatim after a header naming its data volume, replacing the instance when it changes", () => {
        const { inputs } = one("aws:ec2/instance:Instance");
        const script = fs.readFileSync(path.join(REPO_ROOT, "scripts", "mysql-host-user-data.sh"), "utf8");
        assert.equal(
            inputs.userData,
            [
                "#!/usr/bin/env bash",
                "# consistent-snapshots MysqlHost: the settings of scripts/mysql-host-user-data.sh, which follows verbatim.",
                "export DATA_VOLUME_ID=vol-64622d64617461000 BINLOG_EXPIRE_DAYS=7",
                script,
            ].join("\n"),
        );
        assert.equal(inputs.userDataReplaceOnChange, true);
        assert.throws(() => mysqlHostUserData({ dataVolumeId: "vol-1; rm -rf /", binlogExpireDays: 7 }), /not an EBS volume id/);
    });

    it("user data makes sure the SSM Agent takes ENV_VAR parameters (3.3.2746.0 or later)", () => {
        const script = fs.readFileSync(path.join(REPO_ROOT, "scripts", "mysql-host-user-data.sh"), "utf8");
        assert.equal(MIN_SSM_AGENT_VERSION, "3.3.2746.0");
        assert.match(script, new RegExp(`^MIN_SSM_AGENT_VERSION=${MIN_SSM_AGENT_VERSION.replace(/\./g, "\\.")}$`, "m"));
        assert.match(script, /^ {2}ensure_ssm_agent$/m);
    });

    it("user data creates a backup account with only RELOAD, PROCESS, BINLOG MONITOR, SLAVE MONITOR and SHOW VIEW, password never on a command line", () => {
        const userData = one("aws:ec2/instance:Instance").inputs.userData as string;
        assert.match(userData, /GRANT RELOAD, PROCESS, BINLOG MONITOR, SLAVE MONITOR, SHOW VIEW ON \*\.\* TO/);
        assert.match(userData, /\[client_consistent_snapshot\]/);
        // Where the datadir resolves is proved against a real server binary: tests/host/user-data.spec.ts.
        assert.doesNotMatch(userData, /(mysql|mariadb)\s+[^<\n]*(-p|--password)/);
    });

    it("assumes its role as EC2, with no condition AWS does not document for EC2, and AmazonSSMManagedInstanceCore (not AmazonEC2RoleforSSM)", () => {
        const trust = JSON.parse(one("aws:iam/role:Role").inputs.assumeRolePolicy);
        assert.deepEqual(trust.Statement, [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }]);
        assert.equal(one("aws:iam/rolePolicyAttachment:RolePolicyAttachment").inputs.policyArn, "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore");
    });

    it("allows exactly what the snapshot script calls, on this instance only, snapshots only with the creator tag", () => {
        const policy = parsePolicy(one("aws:iam/rolePolicy:RolePolicy").inputs.policy);
        assert.deepEqual(actions(policy), [
            "ec2:CreateSnapshots",
            "ec2:CreateTags",
            "ec2:DeleteSnapshot",
            "ec2:DescribeInstances",
            "ec2:DescribeSnapshots",
            "logs:CreateLogGroup",
            "logs:CreateLogStream",
            "logs:DescribeLogGroups",
            "logs:DescribeLogStreams",
            "logs:PutLogEvents",
        ]);
        assert.deepEqual(statement(policy, "SnapshotThisInstance").Resource, [`arn:aws:ec2:${REGION}:${ACCOUNT_ID}:instance/i-0db`]);
        // ...and only when the caller is that instance (what each condition allows: tests/unit/iamSimulation.spec.ts).
        assert.deepEqual(statement(policy, "SnapshotThisInstance").Condition, {
            ArnEquals: { "ec2:SourceInstanceARN": `arn:aws:ec2:${REGION}:${ACCOUNT_ID}:instance/${"${ec2:InstanceID}"}` },
        });
        assert.equal(statement(policy, "SnapshotItsVolumes").Resource, `arn:aws:ec2:${REGION}:${ACCOUNT_ID}:volume/*`);
        const create = statement(policy, "CreateTaggedSnapshots");
        assert.equal(create.Resource, `arn:aws:ec2:${REGION}::snapshot/*`);
        assert.deepEqual(create.Condition, {
            StringEquals: { [`aws:RequestTag/${CREATED_BY_TAG.key}`]: CREATED_BY_TAG.value },
            ArnEquals: { "ec2:SourceInstanceARN": `arn:aws:ec2:${REGION}:${ACCOUNT_ID}:instance/${"${aws:RequestTag/InstanceId}"}` },
        });
        const tag = statement(policy, "TagOnlyOnCreate");
        assert.deepEqual(tag.Action, ["ec2:CreateTags"]);
        assert.deepEqual(tag.Condition, { StringEquals: { "ec2:CreateAction": "CreateSnapshots" } });
        assert.deepEqual(statement(policy, "DescribeOwnVolumes").Condition, { StringEquals: { "aws:RequestedRegion": REGION } });
        assert.deepEqual(statement(policy, "WriteRunCommandOutput").Resource, [LOG_GROUP_ARN, `${LOG_GROUP_ARN}:log-stream:*`]);
        const deletion = statement(policy, "DeleteOwnSnapshots");
        assert.equal(deletion.Resource, `arn:aws:ec2:${REGION}::snapshot/*`);
        assert.deepEqual(deletion.Condition, {
            StringEquals: { [`aws:ResourceTag/${CREATED_BY_TAG.key}`]: CREATED_BY_TAG.value },
            ArnEquals: { "ec2:SourceInstanceARN": `arn:aws:ec2:${REGION}:${ACCOUNT_ID}:instance/${"${aws:ResourceTag/InstanceId}"}` },
        });
        for (const s of policy.Statement) {
            if (s.Resource === "*") {
                assert.ok(["DescribeOwnVolumes", "ListSnapshots"].includes(s.Sid), `${s.Sid} on *`);
                assert.deepEqual(s.Condition, { StringEquals: { "aws:RequestedRegion": REGION } });
            }
        }
    });

    it("exports the instance id and ARN and the data volume's id", async () => {
        assert.equal(await value(host.instanceId), "db-id");
        assert.match(await value(host.instanceArn), /:instance\/i-0db$/);
        assert.equal(await value(host.dataVolumeId), "vol-64622d64617461000");
    });

    describe("with protectDataVolume, retainDataVolumeOnDelete and binlogExpireDays", () => {
        before(async () => {
            await useMocks("test");
            new MysqlHost("db", {
                vpcId: "vpc-1",
                subnetId: "subnet-1",
                protectDataVolume: true,
                retainDataVolumeOnDelete: true,
                binlogExpireDays: 30,
            });
            await settle();
        });

        it("protects the data volume and keeps it in AWS when Pulumi deletes it", () => {
            const { options } = one("aws:ebs/volume:Volume");
            assert.deepEqual([options.protect, options.retainOnDelete], [true, true]);
            assert.equal(one("aws:ec2/instance:Instance").options.protect, false, "the instance itself can be rolled");
        });

        it("passes the binlog expiry to the user data", () => {
            assert.match(one("aws:ec2/instance:Instance").inputs.userData, /^export DATA_VOLUME_ID=vol-[0-9a-f]+ BINLOG_EXPIRE_DAYS=30$/m);
        });

        it("refuses a binlog expiry MariaDB does not accept", () => {
            assert.throws(
                () => new MysqlHost("bad", { vpcId: "vpc-1", subnetId: "subnet-1", binlogExpireDays: 100 }),
                /MysqlHost bad: binlogExpireDays 100 is not a whole number of days from 1 to 99/,
            );
        });
    });
});
