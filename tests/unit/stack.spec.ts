import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as jmespath from "jmespath";
import { loadStackConfig } from "../../config";
import { MAIN_TARGET_NAME, StackOutputs, createStack, dlmRunNowRetention } from "../../stack";
import { REPO_ROOT, inventory, ofType, one, settle, stackFileConfig, useMocks, value } from "./mocks";
import { parsePolicy, statement } from "./policyAssertions";

/** A DescribeSnapshots entry as EC2 returns it. */
function snapshot(snapshotId: string, startTime: string, tags: Record<string, string>) {
    return {
        SnapshotId: snapshotId,
        StartTime: startTime,
        VolumeId: "vol-1",
        State: "completed",
        Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
    };
}

/**
 * What the command prints, from EC2's answer to its filters: the `--filters` applied as EC2 does (tag:K=V, tag-key),
 * then its `--query` evaluated by the JMESPath reference implementation.
 */
function listSnapshots(command: string, snapshots: ReturnType<typeof snapshot>[]): unknown[][] {
    const filter = /--filters Name=([\w:-]+),Values=(\S+)/.exec(command)!;
    const values = filter[2].split(",");
    const kept = snapshots.filter((s) =>
        filter[1] === "tag-key" ? s.Tags.some((t) => values.includes(t.Key)) : s.Tags.some((t) => `tag:${t.Key}` === filter[1] && values.includes(t.Value)),
    );
    const query = /--query '([^']+)'/.exec(command)![1];
    return jmespath.search({ Snapshots: kept }, query);
}

/** The --parameters JSON of a send-command. */
function extractParameters(command: string): Record<string, string[]> {
    return JSON.parse(/--parameters '([^']+)'/.exec(command)![1]);
}

const DEV_INVENTORY = {
    "consistent-snapshots:index:SnapshotDocument": 1,
    "consistent-snapshots:index:SnapshotMaintenanceWindow": 1,
    "consistent-snapshots:index:Network": 1,
    "consistent-snapshots:index:MysqlHost": 1,
    "aws:ssm/document:Document": 1,
    "aws:ssm/maintenanceWindow:MaintenanceWindow": 1,
    "aws:ssm/maintenanceWindowTarget:MaintenanceWindowTarget": 1,
    "aws:ssm/maintenanceWindowTask:MaintenanceWindowTask": 1,
    "aws:cloudwatch/logGroup:LogGroup": 1,
    "aws:iam/role:Role": 2,
    "aws:iam/rolePolicy:RolePolicy": 2,
    "aws:iam/policy:Policy": 2, // the hosts' instance policy and the operators' policy
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": 1,
    "aws:iam/instanceProfile:InstanceProfile": 1,
    "awsx:ec2:Vpc": 1,
    "aws:ec2/securityGroup:SecurityGroup": 1,
    "aws:ec2/instance:Instance": 1,
    "aws:ebs/volume:Volume": 1,
    "aws:ec2/volumeAttachment:VolumeAttachment": 1,
    "aws:kms/key:Key": 1,
    "aws:sns/topic:Topic": 1,
    "aws:sns/topicPolicy:TopicPolicy": 1,
    "aws:cloudwatch/eventRule:EventRule": 3,
    "aws:cloudwatch/eventTarget:EventTarget": 3,
    "aws:cloudwatch/logMetricFilter:LogMetricFilter": 6,
    "aws:cloudwatch/metricAlarm:MetricAlarm": 1,
    "aws:cloudwatch/dashboard:Dashboard": 1,
};

describe("the stack (index.ts / stack.ts)", () => {
    describe("dev (Pulumi.dev.yaml: the seed's setup)", () => {
        let outputs: StackOutputs;
        before(async () => {
            await useMocks("dev", stackFileConfig("dev"));
            outputs = createStack();
            await settle();
        });

        it("declares exactly the seed's resources, as components", () => {
            assert.deepEqual(inventory(), DEV_INVENTORY);
        });

        it("schedules midnight UTC daily, 2 h window, no cutoff", () => {
            const { inputs } = one("aws:ssm/maintenanceWindow:MaintenanceWindow");
            assert.deepEqual(
                [inputs.schedule, inputs.scheduleTimezone, inputs.duration, inputs.cutoff, inputs.enabled],
                ["cron(0 0 * * ? *)", "UTC", 2, 0, true],
            );
        });

        it("targets ConsistentSnapshot=AmazonLinuxMySQL one at a time, stopping after one error", () => {
            assert.deepEqual(one("aws:ssm/maintenanceWindowTarget:MaintenanceWindowTarget").inputs.targets, [
                { key: "tag:ConsistentSnapshot", values: ["AmazonLinuxMySQL"] },
            ]);
            const task = one("aws:ssm/maintenanceWindowTask:MaintenanceWindowTask").inputs;
            assert.deepEqual([task.maxConcurrency, task.maxErrors], ["1", "1"]);
        });

        it("tags the demo host exactly as the window target selects", () => {
            const tags = one("aws:ec2/instance:Instance").inputs.tags;
            const [target] = one("aws:ssm/maintenanceWindowTarget:MaintenanceWindowTarget").inputs.targets;
            assert.equal(target.key, "tag:ConsistentSnapshot");
            assert.deepEqual(target.values, [tags.ConsistentSnapshot]);
        });

        it("runs the task on the window target and the document", async () => {
            const task = one("aws:ssm/maintenanceWindowTask:MaintenanceWindowTask").inputs;
            const target = one("aws:ssm/maintenanceWindowTarget:MaintenanceWindowTarget");
            assert.deepEqual(task.targets, [{ key: "WindowTargetIds", values: [target.id] }]);
            assert.deepEqual(await value(outputs.documentNames), [task.taskArn]);
        });

        it("puts the host in the public subnet with a public IP, and lets it write command output", () => {
            const instance = one("aws:ec2/instance:Instance").inputs;
            assert.equal(instance.subnetId, "subnet-public-a");
            assert.equal(instance.associatePublicIpAddress, true);
            const hostPolicy = ofType("aws:iam/rolePolicy:RolePolicy").find((p) => p.name === "mysql-snapshot")!;
            const logGroup = one("aws:cloudwatch/logGroup:LogGroup");
            assert.deepEqual(
                statement(parsePolicy(hostPolicy.inputs.policy), "WriteRunCommandOutput").Resource[0],
                `arn:aws:logs:us-east-1:111122223333:log-group:${logGroup.name}-a1b2c3`,
            );
        });

        it("gives the host the URN the README's deliberate-replacement command names", () => {
            const readme = fs.readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
            const urn = /--replace '(urn:[^']+)'/.exec(readme)?.[1];
            assert.equal(urn, one("aws:ec2/instance:Instance").urn);
        });

        it("exports the operator's outputs", async () => {
            assert.equal(await value(outputs.maintenanceWindowId), "snapshots-id");
            assert.match(await value(outputs.maintenanceWindowRoleArn), /role/);
            assert.deepEqual(await value(outputs.targetIds), { [MAIN_TARGET_NAME]: "snapshots-main-id" });
            assert.match(await value(outputs.logGroupName), /^snapshots-output/);
            assert.equal(await value(outputs.vpcId!), "vpc-0123");
            assert.equal(await value(outputs.instanceId!), "mysql-id");
        });
    });

    describe("operator commands (outputs)", () => {
        let outputs: StackOutputs;
        before(async () => {
            await useMocks("prod", stackFileConfig("prod"));
            outputs = createStack();
            await settle();
        });

        it("runs the document now in the stack's Region (Pulumi.prod.yaml: eu-west-3) on the main target, with the stack's concurrency, parameters and log group", async () => {
            const command = await value(outputs.runNowCommand);
            assert.equal(
                command,
                "aws ssm send-command --region eu-west-3 --document-name consistent-snapshot-a1b2c3" +
                    " --targets 'Key=tag:ConsistentSnapshot,Values=AmazonLinuxMySQL' --max-concurrency 10% --max-errors 5%" +
                    ` --parameters '{"target":["main"],"maxFreezeSeconds":["20"],"lockTimeoutSeconds":["3"]}' --comment 'consistent-snapshots run now'` +
                    " --cloud-watch-output-config CloudWatchOutputEnabled=true,CloudWatchLogGroupName=snapshots-output-a1b2c3",
            );
            assert.deepEqual(
                await value(outputs.runNowSettings),
                {
                    tagKey: "ConsistentSnapshot",
                    tagValue: "AmazonLinuxMySQL",
                    maxConcurrency: "10%",
                    maxErrors: "5%",
                    parameters: { target: "main", maxFreezeSeconds: "20", lockTimeoutSeconds: "3" },
                },
                "the operator CLI's run --stack-outputs sends what runNowCommand sends",
            );
        });

        it("lists the window's last executions and the document's last commands", async () => {
            const command = await value(outputs.historyCommand);
            assert.match(command, /describe-maintenance-window-executions --region eu-west-3 --window-id snapshots-id --max-results 10/);
            assert.match(command, /list-commands --region eu-west-3 --filters key=DocumentName,value=consistent-snapshot-a1b2c3/);
        });

        it("lists the newest snapshots this tool created", async () => {
            const command = await value(outputs.snapshotsCommand);
            assert.match(command, /describe-snapshots --region eu-west-3 --owner-ids self --filters Name=tag:CreatedBy,Values=consistent-snapshots/);
            const rows = listSnapshots(command, [
                snapshot("snap-a", "2026-12-01T00:00:00Z", { CreatedBy: "consistent-snapshots", InstanceId: "i-1", RunId: "cs-a" }),
                snapshot("snap-b", "2026-12-02T00:00:00Z", { CreatedBy: "consistent-snapshots", InstanceId: "i-1", RunId: "cs-b" }),
            ]);
            assert.deepEqual(
                rows.map((r) => [r[1], r[4], r[5]]),
                [
                    ["snap-b", "i-1", "cs-b"],
                    ["snap-a", "i-1", "cs-a"],
                ],
            );
        });
    });

    describe("prod (Pulumi.prod.yaml: every 6 h Paris time, private network, 10%)", () => {
        before(async () => {
            await useMocks("prod", stackFileConfig("prod"));
            createStack();
            await settle();
        });

        it("declares the dev resources plus the private endpoints, their security group, the extra target and the restore drill", () => {
            assert.deepEqual(inventory(), {
                ...DEV_INVENTORY,
                "aws:ssm/maintenanceWindowTarget:MaintenanceWindowTarget": 2,
                "aws:ssm/maintenanceWindowTask:MaintenanceWindowTask": 2,
                "aws:ec2/vpcEndpoint:VpcEndpoint": 6,
                "aws:sns/topicSubscription:TopicSubscription": 1,
                // The restore drill: its security group, launch template, instance role and profile, verify document
                // and runbook, Automation and Scheduler roles, a schedule group with a schedule per target and an
                // alarm on drills not started, and its two rules (failed, not started) on the window's topic.
                "aws:cloudwatch/metricAlarm:MetricAlarm": 3,
                "aws:scheduler/scheduleGroup:ScheduleGroup": 1,
                "consistent-snapshots:index:RestoreDrill": 1,
                "aws:ec2/securityGroup:SecurityGroup": 3,
                "aws:ec2/launchTemplate:LaunchTemplate": 1,
                "aws:iam/role:Role": DEV_INVENTORY["aws:iam/role:Role"] + 3,
                "aws:iam/rolePolicy:RolePolicy": DEV_INVENTORY["aws:iam/rolePolicy:RolePolicy"] + 3,
                "aws:iam/instanceProfile:InstanceProfile": DEV_INVENTORY["aws:iam/instanceProfile:InstanceProfile"] + 1,
                "aws:ssm/document:Document": DEV_INVENTORY["aws:ssm/document:Document"] + 2,
                "aws:scheduler/schedule:Schedule": 1,
                "aws:cloudwatch/eventRule:EventRule": DEV_INVENTORY["aws:cloudwatch/eventRule:EventRule"] + 2,
                "aws:cloudwatch/eventTarget:EventTarget": DEV_INVENTORY["aws:cloudwatch/eventTarget:EventTarget"] + 2,
            });
        });

        it("gives operators a policy that may start the drill, with both targets' tag values", async () => {
            const policy = JSON.parse(ofType("aws:iam/policy:Policy").find((p) => p.name === "operator")!.inputs.policy);
            const sids = policy.Statement.map((st: { Sid: string }) => st.Sid);
            assert.ok(sids.includes("StartRestoreDrills") && sids.includes("PassTheirRoles"), sids.join(","));
            const tagged = policy.Statement.find((st: { Sid: string }) => st.Sid === "OnTargetedInstancesOnly");
            assert.deepEqual(tagged.Condition.StringEquals["ssm:resourceTag/ConsistentSnapshot"], ["AmazonLinuxMySQL", "FilesystemOnly"]);
        });

        it("drills the database target weekly on Paris time from the private subnet (not the filesystem-only one), and sends a failed drill to the window's alert topic", () => {
            const schedules = ofType("aws:scheduler/schedule:Schedule");
            assert.deepEqual(
                schedules.map((s) => [
                    s.name,
                    s.inputs.scheduleExpression,
                    s.inputs.scheduleExpressionTimezone,
                    JSON.parse(s.inputs.target.input).Parameters.TagValue[0],
                ]),
                [["snapshots-drill-main", "cron(0 6 ? * SUN *)", "Europe/Paris", "AmazonLinuxMySQL"]],
            );
            const template = one("aws:ec2/launchTemplate:LaunchTemplate").inputs;
            assert.equal(template.networkInterfaces[0].subnetId, "subnet-isolated-a");
            const rule = ofType("aws:cloudwatch/eventRule:EventRule").find((r) => r.name === "snapshots-drill-failed")!;
            assert.equal(JSON.parse(rule.inputs.eventPattern)["detail-type"][0], "EC2 Automation Execution Status-change Notification");
            assert.ok(ofType("aws:cloudwatch/eventTarget:EventTarget").some((t) => t.name === "snapshots-drill-failed"));
        });

        it("schedules every 6 hours in Europe/Paris", () => {
            const { inputs } = one("aws:ssm/maintenanceWindow:MaintenanceWindow");
            assert.deepEqual([inputs.schedule, inputs.scheduleTimezone, inputs.duration, inputs.cutoff], ["cron(0 0/6 * * ? *)", "Europe/Paris", 3, 1]);
        });

        it("runs 10% at a time, stops at 5%, and passes its snapshot parameters", () => {
            const main = ofType("aws:ssm/maintenanceWindowTask:MaintenanceWindowTask").find((t) => t.name === "snapshots-main")!.inputs;
            assert.deepEqual([main.maxConcurrency, main.maxErrors], ["10%", "5%"]);
            assert.deepEqual(main.taskInvocationParameters.runCommandParameters.parameters, [
                { name: "target", values: ["main"] },
                { name: "maxFreezeSeconds", values: ["20"] },
                { name: "lockTimeoutSeconds", values: ["3"] },
            ]);
        });

        it("adds the extra filesystem-only target with its own task and priority", () => {
            const targets = ofType("aws:ssm/maintenanceWindowTarget:MaintenanceWindowTarget");
            assert.deepEqual(
                targets.map((t) => [t.name, t.inputs.targets[0].values[0]]),
                [
                    ["snapshots-extra-1", "FilesystemOnly"],
                    ["snapshots-main", "AmazonLinuxMySQL"],
                ],
            );
            const extra = ofType("aws:ssm/maintenanceWindowTask:MaintenanceWindowTask").find((t) => t.name === "snapshots-extra-1")!.inputs;
            assert.deepEqual(extra.taskInvocationParameters.runCommandParameters.parameters, [
                { name: "target", values: ["extra-1"] },
                { name: "database", values: ["none"] },
            ]);
            assert.equal(extra.priority, 2);
            assert.deepEqual([extra.maxConcurrency, extra.maxErrors], ["2", "1"]);
        });

        it("places the host in an isolated subnet, no public IP, with the SSM, EC2 and CloudWatch Logs endpoints", () => {
            const instance = one("aws:ec2/instance:Instance").inputs;
            assert.equal(instance.subnetId, "subnet-isolated-a");
            assert.equal(instance.associatePublicIpAddress, false);
            assert.equal(instance.instanceType, "t3.small");
            assert.deepEqual(
                ofType("aws:ec2/vpcEndpoint:VpcEndpoint")
                    .map((e) => e.inputs.serviceName)
                    .sort(),
                ["ec2", "ec2messages", "logs", "s3", "ssm", "ssmmessages"].map((s) => `com.amazonaws.eu-west-3.${s}`),
            );
        });

        it("launches the host only after its network path exists (the VPC with its S3 gateway endpoint, every interface endpoint)", () => {
            const { dependencies } = one("aws:ec2/instance:Instance");
            for (const needed of [one("awsx:ec2:Vpc"), ...ofType("aws:ec2/vpcEndpoint:VpcEndpoint")]) {
                assert.ok(dependencies.includes(needed.urn), `the instance does not depend on ${needed.name}`);
            }
        });

        it("protects the data volume and keeps binlogs 14 days", () => {
            assert.equal(one("aws:ebs/volume:Volume").options.protect, true);
            assert.match(one("aws:ec2/instance:Instance").inputs.userData, /^export DATA_VOLUME_ID=vol-[0-9a-f]{17} BINLOG_EXPIRE_DAYS=14$/m);
        });

        it("mails failure alerts to the on-call address", () => {
            assert.equal(one("aws:sns/topicSubscription:TopicSubscription").inputs.endpoint, "dba-oncall@example.com");
        });

        it("keeps command output 90 days", () => {
            assert.equal(one("aws:cloudwatch/logGroup:LogGroup").inputs.retentionInDays, 90);
        });
    });

    describe("staging (Pulumi.staging.yaml: Data Lifecycle Manager as the scheduler)", () => {
        let outputs: StackOutputs;
        before(async () => {
            await useMocks("staging", stackFileConfig("staging"));
            outputs = createStack();
            await settle();
        });

        it("declares the document, a DLM policy with its role, alerts and hosts' policy, and the demo host: no maintenance window", () => {
            const counts = inventory();
            assert.equal(counts["aws:dlm/lifecyclePolicy:LifecyclePolicy"], 1);
            assert.equal(counts["consistent-snapshots:index:SnapshotLifecyclePolicy"], 1);
            for (const absent of [
                "aws:ssm/maintenanceWindow:MaintenanceWindow",
                "aws:ssm/maintenanceWindowTask:MaintenanceWindowTask",
                "aws:cloudwatch/logGroup:LogGroup",
            ])
                assert.equal(counts[absent], undefined, absent);
            assert.equal(outputs.maintenanceWindowId, undefined);
        });

        it("wires the document as DLM's pre and post script, tagged for DLM, with the stack's parameters as its defaults", () => {
            const { policyDetails } = one("aws:dlm/lifecyclePolicy:LifecyclePolicy").inputs;
            const [schedule] = policyDetails.schedules;
            assert.equal(schedule.createRule.cronExpression, "cron(0 3 * * ? *)");
            // The document's name as the mocks give it (auto-named: its resource name and a suffix).
            assert.equal(schedule.createRule.scripts.executionHandler, "consistent-snapshot-a1b2c3");
            assert.equal(schedule.createRule.scripts.executeOperationOnScriptFailure, false);
            assert.deepEqual(schedule.retainRule, { interval: 14, intervalUnit: "DAYS" });
            assert.deepEqual(
                schedule.crossRegionCopyRules.map((r: Record<string, unknown>) => [r.targetRegion, r.encrypted]),
                [["eu-central-1", true]],
            );
            const document = one("aws:ssm/document:Document").inputs;
            assert.equal(document.tags.DLMScriptsAccess, "true");
            const defaults = JSON.parse(document.content).parameters;
            assert.equal(defaults.maxFreezeSeconds.default, "90");
            assert.equal(defaults.retainDays.default, "0", "the script must not prune DLM's snapshots");
        });

        it("lets the demo host's post-script tag DLM's snapshots", () => {
            const policy = parsePolicy(ofType("aws:iam/rolePolicy:RolePolicy").find((r) => r.name === "mysql-snapshot")!.inputs.policy);
            assert.ok(statement(policy, "TagLifecyclePolicySnapshots"));
        });

        it("points the operator commands at DLM and its snapshots", async () => {
            assert.match(await value(outputs.historyCommand), /^aws dlm get-lifecycle-policy --region eu-west-1 --policy-id snapshots-id /);
            assert.doesNotMatch(await value(outputs.runNowCommand), /cloud-watch-output-config/);
            assert.equal(await value(outputs.lifecyclePolicyId), "snapshots-id");
        });

        it("runs now with DLM's retention (14 days), which the script applies to its own run-now snapshots of the instance", async () => {
            const command = await value(outputs.runNowCommand);
            assert.match(command, / --parameters '\{"retainDays":\["14"\]\}' /);
            assert.equal(extractParameters(command).retainDays[0], "14");
            const config = loadStackConfig();
            assert.deepEqual(dlmRunNowRetention(config), { retainDays: "14" });
            assert.deepEqual(dlmRunNowRetention({ ...config, snapshotParameters: { retainCount: "3" } }), { retainCount: "3" });
            assert.deepEqual(dlmRunNowRetention({ ...config, snapshotParameters: {} }), { retainCount: "7" }, "DLM's own default count");
            assert.deepEqual((await value(outputs.runNowSettings)).parameters, { retainDays: "14" }, "the operator CLI's run would not prune");
        });

        it("lists DLM's snapshots and run-now snapshots together, newest first, and nobody else's (the query run by a JMESPath engine)", async () => {
            const command = await value(outputs.snapshotsCommand);
            assert.match(command, /--filters Name=tag-key,Values=CreatedByPolicy,CreatedBy /);
            const rows = listSnapshots(command, [
                snapshot("snap-dlm-old", "2026-12-01T03:00:00Z", { CreatedByPolicy: "consistent-snapshots", "dlm:managed": "true", InstanceId: "i-1" }),
                snapshot("snap-runnow", "2026-12-03T10:00:00Z", { CreatedBy: "consistent-snapshots", InstanceId: "i-1", RunId: "cs-run" }),
                snapshot("snap-dlm-new", "2026-12-04T03:00:00Z", { CreatedByPolicy: "consistent-snapshots", "dlm:managed": "true", InstanceId: "i-1" }),
                snapshot("snap-other-policy", "2026-12-04T04:00:00Z", { CreatedByPolicy: "someone-else", "dlm:managed": "true" }),
                snapshot("snap-other-tool", "2026-12-04T05:00:00Z", { CreatedBy: "another-tool" }),
            ]);
            assert.deepEqual(
                rows.map((r) => [r[1], r[4], r[5], r[6]]),
                [
                    ["snap-dlm-new", "i-1", null, "true"],
                    ["snap-runnow", "i-1", "cs-run", null],
                    ["snap-dlm-old", "i-1", null, "true"],
                ],
            );
        });
    });

    describe("without the demo host (instances brought by the user)", () => {
        let outputs: StackOutputs;
        before(async () => {
            await useMocks("byo", { createDemoHost: "false", tagValue: "Legacy" });
            outputs = createStack();
            await settle();
        });

        it("declares only the document and the window bundle, and exports no VPC or instance", () => {
            assert.equal(ofType("aws:ec2/instance:Instance").length, 0);
            assert.equal(ofType("awsx:ec2:Vpc").length, 0);
            assert.equal(outputs.vpcId, undefined);
            assert.equal(outputs.instanceId, undefined);
            assert.deepEqual(one("aws:ssm/maintenanceWindowTarget:MaintenanceWindowTarget").inputs.targets, [
                { key: "tag:ConsistentSnapshot", values: ["Legacy"] },
            ]);
        });
    });

    describe("index.ts under mocks", () => {
        it("loads, validates config and exports the documented outputs", async () => {
            await useMocks("dev", stackFileConfig("dev"));
            const entry = path.join(REPO_ROOT, "index.ts");
            delete require.cache[require.resolve(entry)];
            // eslint-disable-next-line @typescript-eslint/no-require-imports
            const program = require(entry) as Record<string, unknown>;
            assert.deepEqual(
                Object.keys(program).sort(),
                [
                    "alertTopicArn",
                    "documentNames",
                    "freshnessAlarmArns",
                    "historyCommand",
                    "instanceId",
                    "instancePolicyArn",
                    "logGroupName",
                    "maintenanceWindowId",
                    "maintenanceWindowRoleArn",
                    "operatorPolicyArn",
                    "restoreDrillDocumentName",
                    "runNowCommand",
                    "runNowSettings",
                    "snapshotsCommand",
                    "targetIds",
                    "vpcId",
                    "dataVolumeId",
                    "lifecyclePolicyId",
                    "lifecyclePolicyRoleArn",
                ].sort(),
            );
            await settle();
            assert.deepEqual(inventory(), DEV_INVENTORY);
        });

        it("fails before declaring anything when a config value is invalid", async () => {
            await useMocks("dev", { ...stackFileConfig("dev"), "consistent-snapshots:maxConcurrency": "0" });
            assert.throws(() => createStack(loadStackConfig()), /consistent-snapshots:maxConcurrency: "0" is not valid/);
            await settle();
            assert.deepEqual(inventory(), {});
        });
    });
});
