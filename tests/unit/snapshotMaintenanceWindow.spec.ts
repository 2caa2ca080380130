import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { SnapshotDocument } from "../../components/snapshotDocument";
import { SnapshotMaintenanceWindow, SnapshotMaintenanceWindowArgs, maintenanceWindowArgsErrors } from "../../components/snapshotMaintenanceWindow";
import { ACCOUNT_ID, REGION, inventory, ofType, one, resources, settle, useMocks, value } from "./mocks";
import { actions, parsePolicy, statement } from "./policyAssertions";
import { takeUnhandledRejections } from "../hooks";

const DOC_A = { documentName: "doc-a", documentArn: `arn:aws:ssm:${REGION}:${ACCOUNT_ID}:document/doc-a` };
const DOC_B = { documentName: "doc-b", documentArn: `arn:aws:ssm:${REGION}:${ACCOUNT_ID}:document/doc-b` };

describe("SnapshotMaintenanceWindow", () => {
    let bundle: SnapshotMaintenanceWindow;
    before(async () => {
        await useMocks("test");
        bundle = new SnapshotMaintenanceWindow("mw", {
            schedule: "rate(6 hours)",
            scheduleTimezone: "Europe/Paris",
            duration: 3,
            cutoff: 1,
            enabled: false,
            tagKey: "Backup",
            logRetentionDays: 90,
            commandTimeoutSeconds: 900,
            alertEmail: "oncall@example.com",
            targets: [
                { name: "dbs", tagValue: "MySQL", document: DOC_A, maxConcurrency: "10%", maxErrors: "2", parameters: { maxFreezeSeconds: "20" } },
                { name: "files", tagValue: "Files", document: DOC_B, priority: 5 },
            ],
        });
        await settle();
    });

    it("declares a window, a log group, a role with its policy, an instance policy, and a target and task per target", () => {
        assert.deepEqual(inventory(), {
            "consistent-snapshots:index:SnapshotMaintenanceWindow": 1,
            "aws:ssm/maintenanceWindow:MaintenanceWindow": 1,
            "aws:cloudwatch/logGroup:LogGroup": 1,
            "aws:iam/role:Role": 1,
            "aws:iam/rolePolicy:RolePolicy": 1,
            "aws:iam/policy:Policy": 1,
            "aws:ssm/maintenanceWindowTarget:MaintenanceWindowTarget": 2,
            "aws:ssm/maintenanceWindowTask:MaintenanceWindowTask": 2,
            "aws:kms/key:Key": 1,
            "aws:sns/topic:Topic": 1,
            "aws:sns/topicPolicy:TopicPolicy": 1,
            "aws:sns/topicSubscription:TopicSubscription": 1,
            "aws:cloudwatch/eventRule:EventRule": 2,
            "aws:cloudwatch/eventTarget:EventTarget": 2,
            "aws:cloudwatch/logMetricFilter:LogMetricFilter": 6,
            "aws:cloudwatch/dashboard:Dashboard": 1,
        });
    });

    describe("failure alerts", () => {
        it("catches every failed, timed-out, cancelled or undelivered command of its documents, per instance", () => {
            const rule = ofType("aws:cloudwatch/eventRule:EventRule").find((r) => r.name === "mw-command-failed")!;
            assert.deepEqual(JSON.parse(rule.inputs.eventPattern), {
                source: ["aws.ssm"],
                "detail-type": ["EC2 Command Invocation Status-change Notification"],
                detail: {
                    "document-name": ["doc-a", "doc-b"],
                    status: ["Failed", "TimedOut", "Cancelled", "Undeliverable", "Terminated", "DeliveryTimedOut", "ExecutionTimedOut"],
                },
            });
        });

        it("catches failures of the window itself, where no command is ever sent", () => {
            const rule = ofType("aws:cloudwatch/eventRule:EventRule").find((r) => r.name === "mw-window-failed")!;
            assert.deepEqual(JSON.parse(rule.inputs.eventPattern), {
                source: ["aws.ssm"],
                "detail-type": ["Maintenance Window Task Execution State-change Notification", "Maintenance Window Execution State-change Notification"],
                detail: { "window-id": ["mw-id"], status: ["FAILED", "TIMED_OUT", "CANCELLED", "SKIPPED_OVERLAPPING"] },
            });
        });

        it("sends both rules to the topic with a readable message naming the instance, command and status", () => {
            const topic = one("aws:sns/topic:Topic");
            const targets = ofType("aws:cloudwatch/eventTarget:EventTarget");
            assert.deepEqual(
                targets.map((t) => t.inputs.rule),
                ["mw-command-failed-a1b2c3", "mw-window-failed-a1b2c3"],
            );
            for (const t of targets) assert.equal(t.inputs.arn, `arn:aws:mock:${REGION}:${ACCOUNT_ID}:aws:sns/topic:Topic/${topic.name}`);
            const command = targets[0].inputs.inputTransformer;
            assert.deepEqual(Object.keys(command.inputPaths).sort(), ["command", "document", "instance", "region", "status", "time"]);
            assert.match(command.inputTemplate, /<status> on instance <instance>/);
            assert.ok(JSON.parse(command.inputTemplate), "the template must be a JSON string");
        });

        it("encrypts the topic it creates with a KMS key of its own (rotated yearly) that EventBridge may use to publish (Security Hub SNS.1)", () => {
            const key = one("aws:kms/key:Key");
            assert.equal(key.inputs.enableKeyRotation, true);
            assert.equal(one("aws:sns/topic:Topic").inputs.kmsMasterKeyId, `arn:aws:mock:${REGION}:${ACCOUNT_ID}:aws:kms/key:Key/${key.name}`);
            const policy = JSON.parse(key.inputs.policy);
            assert.deepEqual(
                policy.Statement.map((s: { Sid: string }) => s.Sid),
                ["AccountAdministersKeyThroughIam", "EventBridgePublishesEncrypted"],
            );
            assert.deepEqual(policy.Statement[0].Principal, { AWS: `arn:aws:iam::${ACCOUNT_ID}:root` });
            const publisher = policy.Statement[1];
            assert.deepEqual([publisher.Principal, publisher.Action], [{ Service: "events.amazonaws.com" }, ["kms:GenerateDataKey*", "kms:Decrypt"]]);
        });

        it("lets only its two rules publish to the topic", () => {
            const policy = JSON.parse(one("aws:sns/topicPolicy:TopicPolicy").inputs.policy);
            const topicArn = `arn:aws:mock:${REGION}:${ACCOUNT_ID}:aws:sns/topic:Topic/mw-alerts`;
            const publish = policy.Statement.filter((s: { Action: string[] }) => s.Action.includes("sns:Publish"));
            assert.equal(publish.length, 1);
            assert.deepEqual(publish[0].Principal, { Service: "events.amazonaws.com" });
            assert.deepEqual(publish[0].Action, ["sns:Publish"]);
            assert.equal(publish[0].Resource, topicArn);
            assert.deepEqual(publish[0].Condition, {
                ArnEquals: {
                    "aws:SourceArn": [
                        `arn:aws:mock:${REGION}:${ACCOUNT_ID}:aws:cloudwatch/eventRule:EventRule/mw-command-failed`,
                        `arn:aws:mock:${REGION}:${ACCOUNT_ID}:aws:cloudwatch/eventRule:EventRule/mw-window-failed`,
                    ],
                },
            });
            for (const s of policy.Statement) for (const a of s.Action) assert.doesNotMatch(a, /\*/);
        });

        it("subscribes the on-call e-mail address", () => {
            const sub = one("aws:sns/topicSubscription:TopicSubscription").inputs;
            assert.deepEqual([sub.protocol, sub.endpoint], ["email", "oncall@example.com"]);
        });

        it("exports the topic", async () => {
            assert.match(await value(bundle.alertTopicArn!), /sns\/topic:Topic\/mw-alerts$/);
        });
    });

    it("passes the schedule, time zone, duration, cutoff and enabled through, and refuses unassociated targets", () => {
        const { inputs } = one("aws:ssm/maintenanceWindow:MaintenanceWindow");
        assert.deepEqual(
            [inputs.schedule, inputs.scheduleTimezone, inputs.duration, inputs.cutoff, inputs.enabled, inputs.allowUnassociatedTargets],
            ["rate(6 hours)", "Europe/Paris", 3, 1, false, false],
        );
    });

    it("targets instances by tag only", () => {
        const targets = ofType("aws:ssm/maintenanceWindowTarget:MaintenanceWindowTarget");
        assert.deepEqual(
            targets.map((t) => [t.inputs.resourceType, t.inputs.targets]),
            [
                ["INSTANCE", [{ key: "tag:Backup", values: ["MySQL"] }]],
                ["INSTANCE", [{ key: "tag:Backup", values: ["Files"] }]],
            ],
        );
        const windowId = one("aws:ssm/maintenanceWindow:MaintenanceWindow").id;
        for (const t of targets) assert.equal(t.inputs.windowId, windowId);
    });

    it("wires each RUN_COMMAND task to its own target id, document, concurrency, errors and priority", () => {
        const targets = ofType("aws:ssm/maintenanceWindowTarget:MaintenanceWindowTarget");
        const tasks = ofType("aws:ssm/maintenanceWindowTask:MaintenanceWindowTask");
        const role = one("aws:iam/role:Role");
        assert.deepEqual(
            tasks.map((t) => [t.inputs.taskType, t.inputs.taskArn, t.inputs.maxConcurrency, t.inputs.maxErrors, t.inputs.priority]),
            [
                ["RUN_COMMAND", "doc-a", "10%", "2", 1],
                ["RUN_COMMAND", "doc-b", "1", "1", 5],
            ],
        );
        tasks.forEach((task, i) => {
            assert.deepEqual(task.inputs.targets, [{ key: "WindowTargetIds", values: [targets[i].id] }]);
            assert.equal(task.inputs.serviceRoleArn, `arn:aws:iam::${ACCOUNT_ID}:role/${role.name}-a1b2c3`);
        });
    });

    it("sends document parameters from config and command output to its log group, with a run timeout", () => {
        const [db, fs] = ofType("aws:ssm/maintenanceWindowTask:MaintenanceWindowTask").map((t) => t.inputs.taskInvocationParameters.runCommandParameters);
        const logGroup = one("aws:cloudwatch/logGroup:LogGroup");
        assert.deepEqual(db.parameters, [{ name: "maxFreezeSeconds", values: ["20"] }]);
        assert.deepEqual(fs.parameters, []);
        for (const p of [db, fs]) {
            assert.deepEqual(p.cloudwatchConfig, { cloudwatchLogGroupName: `${logGroup.name}-a1b2c3`, cloudwatchOutputEnabled: true });
            assert.equal(p.timeoutSeconds, 900);
            assert.equal(p.documentVersion, "$DEFAULT");
        }
        assert.equal(logGroup.inputs.retentionInDays, 90);
    });

    it("gives the window a service role SSM alone may assume, from this account", () => {
        const trust = JSON.parse(one("aws:iam/role:Role").inputs.assumeRolePolicy);
        assert.deepEqual(trust.Statement[0].Principal, { Service: "ssm.amazonaws.com" });
        assert.deepEqual(trust.Statement[0].Condition, { StringEquals: { "aws:SourceAccount": ACCOUNT_ID } });
    });

    it("lets the window send only its documents, only to instances with the target tags, and read command results", () => {
        const policy = parsePolicy(one("aws:iam/rolePolicy:RolePolicy").inputs.policy);
        assert.deepEqual(actions(policy), [
            "ssm:CancelCommand",
            "ssm:GetCommandInvocation",
            "ssm:ListCommandInvocations",
            "ssm:ListCommands",
            "ssm:SendCommand",
        ]);
        assert.deepEqual(statement(policy, "SendSnapshotDocuments").Resource, [DOC_A.documentArn, DOC_B.documentArn]);
        const instances = statement(policy, "ToTaggedInstancesOnly");
        assert.equal(instances.Resource, `arn:aws:ec2:${REGION}:${ACCOUNT_ID}:instance/*`);
        assert.deepEqual(instances.Condition, { StringEquals: { "ssm:resourceTag/Backup": ["MySQL", "Files"] } });
    });

    it("offers a managed instance policy for instances it did not create, keyed on the target tags", () => {
        const policy = parsePolicy(one("aws:iam/policy:Policy").inputs.policy);
        const snapshot = statement(policy, "SnapshotTaggedInstances");
        assert.deepEqual(snapshot.Condition, {
            StringEquals: { "aws:ResourceTag/Backup": ["MySQL", "Files"] },
            ArnEquals: { "ec2:SourceInstanceARN": `arn:aws:ec2:${REGION}:${ACCOUNT_ID}:instance/${"${ec2:InstanceID}"}` },
        });
        assert.ok(actions(policy).includes("logs:PutLogEvents"));
    });

    it("exports window id, role ARN, target ids by name and the log group", async () => {
        assert.equal(await value(bundle.maintenanceWindowId), "mw-id");
        assert.deepEqual(await value(bundle.targetIds), { dbs: "mw-dbs-id", files: "mw-files-id" });
        assert.match(await value(bundle.logGroupName), /^mw-output/);
        assert.ok(resources.every((r) => r.type.startsWith("consistent-snapshots:") || r.name.startsWith("mw")));
    });

    it("refuses an empty target list and duplicate target names", () => {
        assert.throws(() => new SnapshotMaintenanceWindow("x", { targets: [] }), /at least one target/);
        assert.throws(
            () =>
                new SnapshotMaintenanceWindow("y", {
                    targets: [
                        { name: "aaa", tagValue: "1", document: DOC_A },
                        { name: "aaa", tagValue: "2", document: DOC_A },
                    ],
                }),
            /targets\[1\]\.name: "aaa" is not valid; expected a name no other target uses/,
        );
    });

    describe("run metrics and the freshness alarm", () => {
        let window: SnapshotMaintenanceWindow;
        before(async () => {
            await useMocks("test");
            const document = new SnapshotDocument("doc");
            window = new SnapshotMaintenanceWindow("fm", {
                schedule: "rate(12 hours)",
                metricNamespace: "Backups/Db",
                targets: [
                    { name: "dbs", tagValue: "MySQL", document, parameters: { maxFreezeSeconds: "20" } },
                    { name: "other", tagValue: "X", document: DOC_A },
                ],
            });
            await settle();
        });

        it("reads each run's summary line from the log group into six metrics, by Target", async () => {
            const order = ["RunsSucceeded", "RunsFailed", "LockHeldMs", "WriteBlockWindowMs", "FrozenMs", "ApiMs"];
            const filters = ofType("aws:cloudwatch/logMetricFilter:LogMetricFilter")
                .map((r) => r.inputs)
                .sort((x, y) => order.indexOf(x.metricTransformation.name) - order.indexOf(y.metricTransformation.name));
            assert.deepEqual(
                filters.map((f) => [f.metricTransformation.name, f.pattern, f.metricTransformation.value, f.metricTransformation.unit]),
                [
                    ["RunsSucceeded", '{ ($.exitCode = 0) && ($.status = "ok") }', "1", "Count"],
                    ["RunsFailed", "{ $.exitCode != 0 }", "1", "Count"],
                    ["LockHeldMs", '{ ($.exitCode = 0) && ($.status = "ok") }', "$.lockHeldMs", "Milliseconds"],
                    ["WriteBlockWindowMs", '{ ($.exitCode = 0) && ($.status = "ok") }', "$.writeBlockWindowMs", "Milliseconds"],
                    ["FrozenMs", '{ ($.exitCode = 0) && ($.status = "ok") }', "$.frozenMs", "Milliseconds"],
                    ["ApiMs", '{ ($.exitCode = 0) && ($.status = "ok") }', "$.apiMs", "Milliseconds"],
                ],
            );
            for (const f of filters) {
                assert.deepEqual([f.metricTransformation.namespace, f.metricTransformation.dimensions], ["Backups/Db", { Target: "$.target" }]);
                assert.equal(f.logGroupName, await value(window.logGroupName), "not the runs' log group");
            }
        });

        it("passes each run its target's name where the document declares target (a SnapshotDocument), beside the target's own parameters", () => {
            const tasks = ofType("aws:ssm/maintenanceWindowTask:MaintenanceWindowTask");
            const params = (n: string) => tasks.find((t) => t.name === n)!.inputs.taskInvocationParameters.runCommandParameters.parameters;
            assert.deepEqual(params("fm-dbs"), [
                { name: "target", values: ["dbs"] },
                { name: "maxFreezeSeconds", values: ["20"] },
            ]);
            assert.deepEqual(params("fm-other"), [], "a document without the parameter would refuse it");
        });

        it("alarms per target when no run succeeded in any of the last freshnessHours hours (default: twice the gap, at least 26), missing hours counted as zero", () => {
            assert.equal(window.freshnessHours, 26);
            const alarms = ofType("aws:cloudwatch/metricAlarm:MetricAlarm");
            assert.deepEqual(
                alarms.map((a) => a.name),
                ["fm-fresh-dbs"],
                "only targets whose runs are counted",
            );
            const a = alarms[0].inputs;
            assert.deepEqual(
                [a.comparisonOperator, a.threshold, a.evaluationPeriods, a.datapointsToAlarm, a.treatMissingData],
                ["LessThanThreshold", 1, 26, 26, "breaching"],
            );
            assert.deepEqual(a.metricQueries, [
                {
                    id: "m0",
                    returnData: false,
                    metric: { namespace: "Backups/Db", metricName: "RunsSucceeded", dimensions: { Target: "dbs" }, period: 3600, stat: "Sum" },
                },
                { id: "fresh", expression: "FILL(m0, 0)", label: "successful runs per hour", returnData: true },
            ]);
            assert.match(a.alarmDescription, /no successful consistent snapshot of target dbs \(instances tagged ConsistentSnapshot=MySQL\) in 26 h/);
        });

        it("sends the alarm's ALARM state to the alert topic through an EventBridge rule (the topic admits only the stack's rules)", async () => {
            const rule = ofType("aws:cloudwatch/eventRule:EventRule").find((r) => r.name === "fm-stale")!.inputs;
            const alarmArn = (await value(window.freshnessAlarmArns)).dbs;
            assert.deepEqual(JSON.parse(rule.eventPattern), {
                source: ["aws.cloudwatch"],
                "detail-type": ["CloudWatch Alarm State Change"],
                resources: [alarmArn],
                detail: { state: { value: ["ALARM"] } },
            });
            const target = ofType("aws:cloudwatch/eventTarget:EventTarget").find((t) => t.name === "fm-stale")!.inputs;
            assert.match(target.inputTransformer.inputTemplate, /NO successful consistent snapshot within the freshness window/);
            const policy = JSON.parse(one("aws:sns/topicPolicy:TopicPolicy").inputs.policy);
            assert.equal(policy.Statement[0].Condition.ArnEquals["aws:SourceArn"].length, 3, "the stale rule may publish");
        });

        it("draws a dashboard per window (a global name: project, stack, component and Region): runs, durations per target, the freshness alarms", async () => {
            const d = one("aws:cloudwatch/dashboard:Dashboard").inputs;
            assert.equal(d.dashboardName, `consistent-snapshots-consistent-snapshots-test-fm-${REGION}`);
            const widgets = JSON.parse(d.dashboardBody).widgets;
            assert.deepEqual(
                widgets.map((w: { type: string; properties: { title: string } }) => [w.type, w.properties.title]),
                [
                    ["metric", "Runs per hour: succeeded and failed, by target"],
                    ["metric", "Writes blocked and filesystems frozen, ms (max per hour)"],
                    ["metric", "Database lock held and CreateSnapshots call, ms (max per hour)"],
                    ["alarm", "Freshness: a successful consistent snapshot within the window"],
                    ["log", "Newest successful consistent snapshot per target (last 7 days)"],
                ],
            );
            assert.equal(JSON.parse(d.dashboardBody).start, "-P7D", "the last week: a daily run and a weekly drill are in view");
            const logGroupName = await value(window.logGroupName);
            assert.equal(
                widgets[4].properties.query,
                `SOURCE '${logGroupName}' | filter exitCode = 0 and status = "ok" and ispresent(target) | stats latest(@timestamp) as newestSnapshot, latest(runId) as run, latest(instanceId) as instance by target | sort newestSnapshot asc`,
            );
            assert.deepEqual(widgets[0].properties.metrics, [
                ["Backups/Db", "RunsSucceeded", "Target", "dbs", { stat: "Sum", label: "dbs RunsSucceeded" }],
                ["Backups/Db", "RunsFailed", "Target", "dbs", { stat: "Sum", label: "dbs RunsFailed" }],
            ]);
            assert.deepEqual(widgets[3].properties.alarms, [(await value(window.freshnessAlarmArns)).dbs]);
            assert.equal(await value(window.dashboardName), d.dashboardName);
        });

        it("makes no freshness alarm with freshnessHours 0; refuses one not longer than the gap between runs", async () => {
            await useMocks("test");
            new SnapshotMaintenanceWindow("nf", { freshnessHours: 0, targets: [{ name: "dbs", tagValue: "MySQL", document: new SnapshotDocument("d") }] });
            await settle();
            assert.equal(ofType("aws:cloudwatch/metricAlarm:MetricAlarm").length, 0);
            assert.throws(
                () =>
                    new SnapshotMaintenanceWindow("bad", {
                        schedule: "rate(12 hours)",
                        freshnessHours: 12,
                        targets: [{ name: "dbs", tagValue: "MySQL", document: DOC_A }],
                    }),
                /freshnessHours: 12 is not valid; expected more hours than the longest gap between two runs of rate\(12 hours\) \(12 h\)/,
            );
        });
    });

    describe("refuses each invalid argument before declaring anything, naming it and the accepted form (as SnapshotLifecyclePolicy does)", () => {
        const target = { name: "dbs", tagValue: "orders", document: DOC_A };
        const cases: [string, Partial<SnapshotMaintenanceWindowArgs>, RegExp][] = [
            ["schedule", { schedule: "cron(0 0 * * *)" }, /schedule: "cron\(0 0 \* \* \*\)" is not valid; expected a maintenance-window schedule \(/],
            ["scheduleTimezone", { scheduleTimezone: "CEST" }, /scheduleTimezone: "CEST" is not valid; expected an IANA time zone/],
            ["duration", { duration: 25 }, /duration: 25 is not valid; expected a whole number of hours from 1 to 24/],
            ["cutoff", { duration: 2, cutoff: 2 }, /cutoff: 2 is not valid; expected a number of hours smaller than duration \(2\)/],
            ["tagKey", { tagKey: "aws:backup" }, /tagKey: "aws:backup" is not valid; expected a tag key not starting with aws:/],
            [
                "targets[0].name",
                { targets: [{ ...target, name: "main target" }] },
                /targets\[0\]\.name: "main target" is not valid; expected 3 to 128 of letters, digits, _ \. -/,
            ],
            [
                "targets[0].tagValue",
                { targets: [{ ...target, tagValue: "a\tb" }] },
                /targets\[0\]\.tagValue: "a\\tb" is not valid; expected a tag value of letters/,
            ],
            [
                "targets[0].maxConcurrency",
                { targets: [{ ...target, maxConcurrency: "0" }] },
                /targets\[0\]\.maxConcurrency: "0" is not valid; expected a count from 1/,
            ],
            ["targets[0].maxErrors", { targets: [{ ...target, maxErrors: "101%" }] }, /targets\[0\]\.maxErrors: "101%" is not valid; expected a count from 0/],
            ["targets[0].priority", { targets: [{ ...target, priority: -1 }] }, /targets\[0\]\.priority: -1 is not valid; expected a whole number, 0 or more/],
            ["logRetentionDays", { logRetentionDays: 10 }, /logRetentionDays: 10 is not valid; expected one of CloudWatch Logs' periods: 1, 3, 5, 7, 14, 30/],
            ["commandTimeoutSeconds", { commandTimeoutSeconds: 10 }, /commandTimeoutSeconds: 10 is not valid; expected seconds from 30 to 2592000/],
        ];
        for (const [key, args, message] of cases) {
            it(key, async () => {
                await useMocks("test");
                assert.throws(
                    () => new SnapshotMaintenanceWindow("bad", { targets: [target], ...args }),
                    (error: Error) => {
                        assert.match(error.message, /^SnapshotMaintenanceWindow bad: /);
                        assert.match(error.message, message);
                        return true;
                    },
                );
                await settle();
                assert.deepEqual(
                    resources.map((r) => r.type),
                    [],
                    "declared something before refusing",
                );
            });
        }

        it("lists every problem at once, and leaves values given as outputs to AWS", async () => {
            await useMocks("test");
            assert.throws(
                () => new SnapshotMaintenanceWindow("bad", { targets: [target], duration: 0, logRetentionDays: 2 }),
                /duration: 0 is not valid.*; logRetentionDays: 2 is not valid/,
            );
            assert.deepEqual(
                maintenanceWindowArgsErrors({ targets: [target], schedule: pulumi.output("anything"), duration: pulumi.output(99), freshnessHours: 30 }),
                [],
            );
            assert.deepEqual(maintenanceWindowArgsErrors({ targets: [target], schedule: pulumi.output("anything") }), [
                "freshnessHours: expected a value when schedule is an output (the default is derived from the schedule)",
            ]);
        });

        it("reports a value of the wrong type as given (a JavaScript caller, or configuration text), not as valid", () => {
            const untyped = {
                targets: [target],
                duration: "3",
                commandTimeoutSeconds: "60",
                logRetentionDays: "30",
            } as unknown as SnapshotMaintenanceWindowArgs;
            assert.deepEqual(maintenanceWindowArgsErrors(untyped), [
                'duration: "3" is not valid; expected a whole number of hours from 1 to 24',
                'logRetentionDays: "30" is not valid; expected one of CloudWatch Logs\' periods: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653',
                'commandTimeoutSeconds: "60" is not valid; expected seconds from 30 to 2592000 (SendCommand\'s TimeoutSeconds)',
            ]);
        });
    });

    describe("alert topic options", () => {
        it("publishes to a topic it is given, without creating or changing one", async () => {
            await useMocks("test");
            const arn = `arn:aws:sns:${REGION}:${ACCOUNT_ID}:platform-alerts`;
            const byo = new SnapshotMaintenanceWindow("byo", { alertTopicArn: arn, targets: [{ name: "dbs", tagValue: "MySQL", document: DOC_A }] });
            await settle();
            assert.equal(ofType("aws:sns/topic:Topic").length, 0);
            assert.equal(ofType("aws:kms/key:Key").length, 0, "a key for a topic it does not own");
            assert.equal(ofType("aws:sns/topicPolicy:TopicPolicy").length, 0);
            assert.deepEqual(
                ofType("aws:cloudwatch/eventTarget:EventTarget").map((t) => t.inputs.arn),
                [arn, arn],
            );
            assert.equal(await value(byo.alertTopicArn!), arn);
        });

        it("refuses a given topic in another Region, naming alertTopicArn (EventBridge targets SNS in its own Region only)", async () => {
            await useMocks("test");
            const arn = `arn:aws:sns:eu-west-1:${ACCOUNT_ID}:platform-alerts`;
            new SnapshotMaintenanceWindow("elsewhere", { alertTopicArn: arn, targets: [{ name: "dbs", tagValue: "MySQL", document: DOC_A }] });
            await settle();
            const errors = (await takeUnhandledRejections()).map(String);
            assert.ok(errors.length > 0, "no error");
            for (const e of errors) {
                assert.match(
                    e,
                    /elsewhere: alertTopicArn 'arn:aws:sns:eu-west-1:111122223333:platform-alerts' is in eu-west-1, but the alerts are in us-east-1/,
                );
            }
            assert.equal(ofType("aws:cloudwatch/eventTarget:EventTarget").length, 0, "a target was registered with the foreign topic");
        });

        it("creates no alert resources when alerts are off", async () => {
            await useMocks("test");
            const quiet = new SnapshotMaintenanceWindow("quiet", { alertsEnabled: false, targets: [{ name: "dbs", tagValue: "MySQL", document: DOC_A }] });
            await settle();
            assert.equal(ofType("aws:cloudwatch/eventRule:EventRule").length, 0);
            assert.equal(quiet.alertTopicArn, undefined);
        });
    });

    describe("texts AWS limits to 1-128 characters (target and task Description, target OwnerInformation)", () => {
        it("fits the longest legal tag key (128) and value (256), and omits OwnerInformation for an empty tag value", async () => {
            await useMocks("test");
            const longKey = "k".repeat(128);
            new SnapshotMaintenanceWindow("edge", {
                tagKey: longKey,
                targets: [
                    { name: "long", tagValue: "v".repeat(256), document: DOC_A },
                    { name: "empty", tagValue: "", document: DOC_B },
                ],
            });
            await settle();
            const windowTargets = ofType("aws:ssm/maintenanceWindowTarget:MaintenanceWindowTarget");
            const tasks = ofType("aws:ssm/maintenanceWindowTask:MaintenanceWindowTask");
            assert.equal(windowTargets.length, 2);
            for (const r of [...windowTargets, ...tasks]) {
                const description = r.inputs.description as string;
                assert.ok(description.length >= 1 && description.length <= 128, `${r.name}: ${description.length} characters`);
                assert.ok(description.includes("k".repeat(20)), description);
            }
            const long = windowTargets.find((r) => r.inputs.name === "long")!;
            const empty = windowTargets.find((r) => r.inputs.name === "empty")!;
            assert.equal((long.inputs.ownerInformation as string).length, 128);
            assert.match(long.inputs.ownerInformation as string, /^v+\.\.\.$/);
            assert.equal(empty.inputs.ownerInformation, undefined);
            assert.deepEqual(empty.inputs.targets, [{ key: `tag:${longKey}`, values: [""] }]);
        });
    });
    describe("the command-output log group's KMS key (logGroupKmsKeyArn, createLogGroupKmsKey)", () => {
        const targets = [{ name: "dbs", tagValue: "MySQL", document: DOC_A }];
        it("is CloudWatch Logs' own encryption by default: no key", async () => {
            await useMocks("test");
            const plain = new SnapshotMaintenanceWindow("plain", { alertsEnabled: false, targets });
            await settle();
            assert.equal(one("aws:cloudwatch/logGroup:LogGroup").inputs.kmsKeyId, undefined);
            assert.equal(ofType("aws:kms/key:Key").length, 0);
            assert.equal(plain.logGroupKmsKeyArn, undefined);
        });
        it("creates a rotated key that CloudWatch Logs may use only for this component's log groups, and encrypts the log group with it", async () => {
            await useMocks("test");
            const encrypted = new SnapshotMaintenanceWindow("enc", { alertsEnabled: false, createLogGroupKmsKey: true, targets });
            await settle();
            const key = one("aws:kms/key:Key");
            assert.equal(key.inputs.enableKeyRotation, true);
            const policy = JSON.parse(key.inputs.policy);
            assert.deepEqual(
                policy.Statement.map((st: { Sid: string }) => st.Sid),
                ["AccountAdministersKeyThroughIam", "CloudWatchLogsEncryptsTheseLogGroups"],
            );
            const logs = policy.Statement[1];
            assert.deepEqual(logs.Principal, { Service: `logs.${REGION}.amazonaws.com` });
            assert.deepEqual(logs.Condition, {
                ArnLike: { "kms:EncryptionContext:aws:logs:arn": `arn:aws:logs:${REGION}:${ACCOUNT_ID}:log-group:enc-output-*` },
            });
            assert.deepEqual(policy.Statement[0].Principal, { AWS: `arn:aws:iam::${ACCOUNT_ID}:root` });
            const logGroup = one("aws:cloudwatch/logGroup:LogGroup");
            // Pulumi's auto-name, which the condition's prefix must match.
            assert.match(logGroup.name, /^enc-output$/);
            assert.equal(logGroup.inputs.kmsKeyId, await value(encrypted.logGroupKmsKeyArn!));
            assert.match(await value(encrypted.logGroupKmsKeyArn!), /kms\/key:Key\/enc-output$/, "not the key this component created");
        });
        it("uses a given key of the stack's Region, and creates none", async () => {
            await useMocks("test");
            const arn = `arn:aws:kms:${REGION}:${ACCOUNT_ID}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
            const given = new SnapshotMaintenanceWindow("given", { alertsEnabled: false, logGroupKmsKeyArn: arn, targets });
            await settle();
            assert.equal(one("aws:cloudwatch/logGroup:LogGroup").inputs.kmsKeyId, arn);
            assert.equal(await value(given.logGroupKmsKeyArn!), arn);
            assert.equal(ofType("aws:kms/key:Key").length, 0);
        });
        it("refuses both a given key and a created one", async () => {
            await useMocks("test");
            assert.throws(
                () =>
                    new SnapshotMaintenanceWindow("both", {
                        createLogGroupKmsKey: true,
                        logGroupKmsKeyArn: "arn:aws:kms:us-east-1:111122223333:key/x",
                        targets,
                    }),
                /SnapshotMaintenanceWindow both: logGroupKmsKeyArn and createLogGroupKmsKey: set one, not both/,
            );
            await settle();
        });
    });
});
