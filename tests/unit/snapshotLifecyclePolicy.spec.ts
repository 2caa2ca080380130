import * as assert from "node:assert/strict";
import {
    PRE_SCRIPT_BUDGET,
    SnapshotLifecyclePolicy,
    SnapshotLifecyclePolicyArgs,
    lifecyclePolicyArgsErrors,
    preScriptWorstCaseSeconds,
} from "../../components/snapshotLifecyclePolicy";
import { SnapshotDocument } from "../../components/snapshotDocument";
import * as fs from "node:fs";
import * as path from "node:path";
import { GTID_TAG_PARTS, POST_SCRIPT_TAG_KEYS, gtidTagKeys, snapshotInstancePolicy } from "../../components/policies";
import { ACCOUNT_ID, REGION, REPO_ROOT, inventory, ofType, one, settle, useMocks, value } from "./mocks";
import { actions, parsePolicy, statement } from "./policyAssertions";

const DOCUMENT = { documentName: "consistent-snapshot-doc", documentArn: `arn:aws:ssm:${REGION}:${ACCOUNT_ID}:document/consistent-snapshot-doc` };

describe("instance policy of hosts DLM snapshots (snapshotInstancePolicy, tagLifecyclePolicySnapshots)", () => {
    const ctx = { partition: "aws", region: REGION, accountId: ACCOUNT_ID };
    it("lets the post-script tag only DLM-managed snapshots, only with the keys it writes", () => {
        const policy = snapshotInstancePolicy(ctx, { tagKey: "K", tagValues: ["v"], tagLifecyclePolicySnapshots: true });
        const tagging = statement(policy, "TagLifecyclePolicySnapshots");
        assert.deepEqual(tagging.Action, ["ec2:CreateTags"]);
        assert.equal(tagging.Resource, `arn:aws:ec2:${REGION}::snapshot/*`);
        assert.deepEqual(tagging.Condition, {
            StringEquals: { "aws:ResourceTag/dlm:managed": "true" },
            "ForAllValues:StringEquals": { "aws:TagKeys": [...POST_SCRIPT_TAG_KEYS] },
            // Only DLM's snapshots of the calling host (DLM's variable tag InstanceId=$(instance-id)).
            ArnEquals: { "ec2:SourceInstanceARN": `arn:aws:ec2:${REGION}:${ACCOUNT_ID}:instance/${"${aws:ResourceTag/InstanceId}"}` },
        });
    });
    it("names every key the script's post-script writes, and nothing else", () => {
        const script = fs.readFileSync(path.join(REPO_ROOT, "scripts", "consistent-snapshot.sh"), "utf8");
        // The tag list: from the function's start to where it turns the list into JSON; a GTID set's keys come from gtid_tags.
        const body = /tag_held_snapshots\(\) \{([\s\S]*?)local json out/.exec(script)![1];
        const keys = [...body.matchAll(/"([A-Za-z]+)=\$/g)].map((m) => m[1]);
        for (const m of body.matchAll(/gtid_tags ([A-Za-z]+) /g)) keys.push(...gtidTagKeys(m[1]));
        assert.deepEqual([...keys].sort(), [...POST_SCRIPT_TAG_KEYS].sort());
        assert.match(script, new RegExp(`GTID_TAG_PARTS=${GTID_TAG_PARTS}\\b`), "the script and the policy agree on how many tags a GTID set spans");
    });
    it("is off by default (maintenance-window hosts tag only on create)", () => {
        const policy = snapshotInstancePolicy(ctx, { tagKey: "K", tagValues: ["v"] });
        assert.ok(!policy.Statement.some((s) => s.Sid === "TagLifecyclePolicySnapshots"));
    });
});

describe("SnapshotLifecyclePolicy", () => {
    describe("with restoreDrill", () => {
        let component: SnapshotLifecyclePolicy;
        before(async () => {
            await useMocks("test");
            component = new SnapshotLifecyclePolicy("dlm", {
                document: DOCUMENT,
                tagValue: "AmazonLinuxMySQL",
                restoreDrill: { subnetId: "subnet-0123456789abcdef0", timeoutMinutes: 45 },
            });
            await settle();
        });

        it("drills the policy's target (main) and sends a failed drill to the policy's own alert topic", async () => {
            const schedule = one("aws:scheduler/schedule:Schedule").inputs;
            assert.deepEqual(JSON.parse(schedule.target.input).Parameters, {
                Target: ["main"],
                TagKey: ["ConsistentSnapshot"],
                TagValue: ["AmazonLinuxMySQL"],
            });
            const rule = ofType("aws:cloudwatch/eventRule:EventRule").find((r) => r.name === "dlm-drill-failed")!;
            assert.ok(rule, "no drill-failed rule on the policy's topic");
            const topicPolicy = JSON.parse(one("aws:sns/topicPolicy:TopicPolicy").inputs.policy);
            assert.equal(topicPolicy.Statement[0].Condition.ArnEquals["aws:SourceArn"].length, 6, "the drill's two rules may publish");
            assert.ok(ofType("aws:cloudwatch/eventRule:EventRule").some((r) => r.name === "dlm-drill-not-started"));
            assert.equal(ofType("aws:sns/topic:Topic").length, 1, "one topic");
            assert.equal(await value(component.restoreDrill!.automationDocumentName), "dlm-drill-runbook-a1b2c3");
        });

        it("shows the drills on the policy's dashboard", () => {
            const widgets = JSON.parse(one("aws:cloudwatch/dashboard:Dashboard").inputs.dashboardBody).widgets;
            assert.deepEqual(widgets.at(-1).properties.metrics, [
                ["ConsistentSnapshots", "RestoreDrillsSucceeded", "Target", "main", { stat: "Sum", label: "main RestoreDrillsSucceeded", period: 86400 }],
                ["ConsistentSnapshots", "RestoreDrillsFailed", "Target", "main", { stat: "Sum", label: "main RestoreDrillsFailed", period: 86400 }],
            ]);
        });

        it("names restoreDrill's keys in its argument errors", () => {
            assert.throws(
                () =>
                    new SnapshotLifecyclePolicy("bad", {
                        document: DOCUMENT,
                        tagValue: "v",
                        restoreDrill: { subnetId: "subnet-0123456789abcdef0", timeoutMinutes: 5 },
                    }),
                /restoreDrill\.timeoutMinutes: 5 is not valid/,
            );
        });
    });

    describe("defaults", () => {
        let component: SnapshotLifecyclePolicy;
        before(async () => {
            await useMocks("test");
            component = new SnapshotLifecyclePolicy("dlm", { document: DOCUMENT, tagValue: "AmazonLinuxMySQL", tags: { Team: "data" } });
            await settle();
        });

        it("declares exactly an execution role, its inline policy, the lifecycle policy and the hosts' managed policy", () => {
            assert.deepEqual(inventory(), {
                "consistent-snapshots:index:SnapshotLifecyclePolicy": 1,
                "aws:iam/role:Role": 1,
                "aws:iam/rolePolicy:RolePolicy": 1,
                "aws:dlm/lifecyclePolicy:LifecyclePolicy": 1,
                "aws:iam/policy:Policy": 1,
                "aws:kms/key:Key": 1,
                "aws:sns/topic:Topic": 1,
                "aws:sns/topicPolicy:TopicPolicy": 1,
                "aws:cloudwatch/eventRule:EventRule": 4,
                "aws:cloudwatch/eventTarget:EventTarget": 4,
                "aws:cloudwatch/metricAlarm:MetricAlarm": 1,
                "aws:cloudwatch/dashboard:Dashboard": 1,
            });
        });

        it("alerts on the document's failed runs (whoever sent them), the policy's ERROR state and failed CreateSnapshots, through a topic only those rules may publish to", () => {
            const rules = ofType("aws:cloudwatch/eventRule:EventRule");
            const script = JSON.parse(rules.find((r) => r.name === "dlm-script-failed")!.inputs.eventPattern);
            assert.deepEqual(script["detail-type"], ["EC2 Command Invocation Status-change Notification"]);
            assert.deepEqual(script.detail["document-name"], [DOCUMENT.documentName]);
            assert.ok(script.detail.status.includes("Failed") && script.detail.status.includes("TimedOut"));
            const error = JSON.parse(rules.find((r) => r.name === "dlm-policy-error")!.inputs.eventPattern);
            assert.deepEqual(error, {
                source: ["aws.dlm"],
                "detail-type": ["DLM Policy State Change"],
                resources: [`arn:aws:mock:${REGION}:${ACCOUNT_ID}:aws:dlm/lifecyclePolicy:LifecyclePolicy/dlm`],
                detail: { state: ["ERROR"] },
            });
            const snapshots = JSON.parse(rules.find((r) => r.name === "dlm-snapshots-failed")!.inputs.eventPattern);
            assert.deepEqual(snapshots, {
                source: ["aws.ec2"],
                "detail-type": ["EBS Multi-Volume Snapshots Completion Status"],
                detail: { event: ["createSnapshots"], result: ["failed"] },
            });
            const topicPolicy = JSON.parse(one("aws:sns/topicPolicy:TopicPolicy").inputs.policy);
            assert.equal(topicPolicy.Statement[0].Condition.ArnEquals["aws:SourceArn"].length, 4);
            for (const target of ofType("aws:cloudwatch/eventTarget:EventTarget"))
                assert.match(target.inputs.inputTransformer.inputTemplate, /consistent-snapshots/);
        });

        it("alarms when DLM took no consistent snapshot (snapshots completed AND post-script succeeded in the same hour) in 48 h, and alerts on it", async () => {
            assert.equal(component.freshnessHours, 48);
            const a = one("aws:cloudwatch/metricAlarm:MetricAlarm").inputs;
            assert.deepEqual(
                [a.evaluationPeriods, a.datapointsToAlarm, a.threshold, a.comparisonOperator, a.treatMissingData],
                [48, 48, 1, "LessThanThreshold", "breaching"],
            );
            const policyId = await value(component.lifecyclePolicyId);
            assert.deepEqual(a.metricQueries, [
                {
                    id: "m0",
                    returnData: false,
                    metric: { namespace: "AWS/EBS", metricName: "SnapshotsCreateCompleted", dimensions: { DLMPolicyId: policyId }, period: 3600, stat: "Sum" },
                },
                {
                    id: "m1",
                    returnData: false,
                    metric: { namespace: "AWS/EBS", metricName: "PostScriptCompleted", dimensions: { DLMPolicyId: policyId }, period: 3600, stat: "Sum" },
                },
                { id: "fresh", expression: "MIN([FILL(m0, 0), FILL(m1, 0)])", label: "successful runs per hour", returnData: true },
            ]);
            const rule = JSON.parse(ofType("aws:cloudwatch/eventRule:EventRule").find((r) => r.name === "dlm-stale")!.inputs.eventPattern);
            assert.deepEqual(rule.resources, [await value(component.freshnessAlarmArn!)]);
        });

        it("gives the hosts a policy for the pre/post script (describe, find and tag DLM's snapshots of themselves) and for run now (create and prune their own), each only for itself", async () => {
            const policy = parsePolicy(one("aws:iam/policy:Policy").inputs.policy);
            assert.deepEqual(actions(policy), [
                "ec2:CreateSnapshots",
                "ec2:CreateTags",
                "ec2:DeleteSnapshot",
                "ec2:DescribeInstances",
                "ec2:DescribeSnapshots",
            ]);
            assert.deepEqual(statement(policy, "TagLifecyclePolicySnapshots").Condition?.StringEquals, { "aws:ResourceTag/dlm:managed": "true" });
            assert.deepEqual(statement(policy, "SnapshotTaggedInstances").Condition?.StringEquals, {
                "aws:ResourceTag/ConsistentSnapshot": ["AmazonLinuxMySQL"],
            });
            assert.match(await value(component.instancePolicyArn), /dlm-instance/);
        });

        it("snapshots INSTANCES tagged ConsistentSnapshot=<value>, boot volume excluded, daily at 00:00 UTC, 7 kept", () => {
            const { policyDetails, state } = one("aws:dlm/lifecyclePolicy:LifecyclePolicy").inputs;
            assert.equal(state, "ENABLED");
            assert.equal(policyDetails.policyType, "EBS_SNAPSHOT_MANAGEMENT");
            assert.deepEqual(policyDetails.resourceTypes, ["INSTANCE"]);
            assert.deepEqual(policyDetails.targetTags, { ConsistentSnapshot: "AmazonLinuxMySQL" });
            assert.deepEqual(policyDetails.parameters, { excludeBootVolume: true });
            const [schedule] = policyDetails.schedules;
            assert.equal(schedule.createRule.cronExpression, "cron(0 0 * * ? *)");
            assert.deepEqual(schedule.retainRule, { count: 7 });
            assert.equal(schedule.copyTags, true);
            assert.deepEqual(schedule.variableTags, { InstanceId: "$(instance-id)" }, "whose snapshot each is: the hosts' IAM keys on it");
            assert.deepEqual(schedule.crossRegionCopyRules, []);
            assert.equal(schedule.fastRestoreRule, undefined);
        });

        it("runs the document as PRE and POST script through SSM, with no crash-consistent fallback when the pre-script fails", () => {
            const { scripts } = one("aws:dlm/lifecyclePolicy:LifecyclePolicy").inputs.policyDetails.schedules[0].createRule;
            assert.deepEqual(scripts, {
                executionHandler: DOCUMENT.documentName,
                executionHandlerService: "AWS_SYSTEMS_MANAGER",
                stages: ["PRE", "POST"],
                executionTimeout: 120,
                maximumRetryCount: 0,
                executeOperationOnScriptFailure: false,
            });
        });

        it("adds a tag of its own that our maintenance-window retention never matches (not CreatedBy)", () => {
            const { tagsToAdd } = one("aws:dlm/lifecyclePolicy:LifecyclePolicy").inputs.policyDetails.schedules[0];
            assert.deepEqual(tagsToAdd, { CreatedByPolicy: "consistent-snapshots" });
        });

        it("assumes its role as DLM only, without conditions DLM does not document", () => {
            const trust = JSON.parse(one("aws:iam/role:Role").inputs.assumeRolePolicy);
            assert.deepEqual(trust.Statement, [{ Effect: "Allow", Principal: { Service: "dlm.amazonaws.com" }, Action: "sts:AssumeRole" }]);
            // The mocks give every role the ARN arn:aws:mock:<region>:<account>:<type>/<name>.
            assert.equal(one("aws:dlm/lifecyclePolicy:LifecyclePolicy").inputs.executionRoleArn, `arn:aws:iam::${ACCOUNT_ID}:role/dlm-role-a1b2c3`);
        });

        it("grants every SSM action AWS's AWSDataLifecycleManagerSSMFullAccess grants for scripts, scoped to this document and the targets", () => {
            // AWSDataLifecycleManagerSSMFullAccess v2 (AWS Managed Policy Reference, edited 2023-11-16): SSM actions
            // on * (read), on DLMScriptsAccess-tagged documents and on every instance. Without DescribeDocument and
            // GetDocument DLM cannot read the document it runs.
            const managed = [
                "ssm:DescribeDocument",
                "ssm:DescribeInstanceInformation",
                "ssm:GetCommandInvocation",
                "ssm:GetDocument",
                "ssm:ListCommands",
                "ssm:SendCommand",
            ];
            const policy = parsePolicy(one("aws:iam/rolePolicy:RolePolicy").inputs.policy);
            assert.deepEqual(
                actions(policy).filter((a) => a.startsWith("ssm:")),
                managed,
            );
            assert.deepEqual(statement(policy, "RunScripts").Action, ["ssm:SendCommand", "ssm:DescribeDocument", "ssm:GetDocument"]);
        });

        it("lets DLM send only this document, only to the targeted instances; no AMI, archive or sharing actions", () => {
            const policy = parsePolicy(one("aws:iam/rolePolicy:RolePolicy").inputs.policy);
            assert.deepEqual(statement(policy, "RunScripts").Resource, [DOCUMENT.documentArn]);
            const targets = statement(policy, "RunScriptsOnTargets");
            assert.equal(targets.Resource, `arn:aws:ec2:${REGION}:${ACCOUNT_ID}:instance/*`);
            assert.deepEqual(targets.Condition, { StringEquals: { "ssm:resourceTag/ConsistentSnapshot": "AmazonLinuxMySQL" } });
            for (const action of actions(policy)) {
                assert.doesNotMatch(action, /Image|Archive|ModifySnapshotAttribute|ModifySnapshotTier|kms:/, action);
            }
            assert.equal(statement(policy, "SnapshotTags").Resource, "arn:aws:ec2:*::snapshot/*");
        });

        it("exports the policy's id and ARN and the role's ARN", async () => {
            assert.equal(await value(component.lifecyclePolicyId), "dlm-id");
            assert.match(await value(component.executionRoleArn), /dlm-role/);
        });
    });

    describe("with retention in days, cross-Region copies, fast snapshot restore and a fallback", () => {
        before(async () => {
            await useMocks("test");
            new SnapshotLifecyclePolicy("dlm", {
                document: DOCUMENT,
                tagKey: "Backup",
                tagValue: "Primary",
                cronExpression: "cron(0 */6 * * ? *)",
                retainDays: 14,
                copyToRegions: [{ region: "eu-central-1" }, { region: "us-west-2", retainDays: 90, cmkArn: "arn:aws:kms:us-west-2:111122223333:key/abcd" }],
                fastRestoreAvailabilityZones: ["us-east-1a", "us-east-1b"],
                fastRestoreCount: 2,
                tagsToAdd: { Env: "prod" },
                executeOperationOnScriptFailure: true,
                scriptExecutionTimeoutSeconds: 120,
                enabled: false,
                alertsEnabled: false,
            });
            await settle();
        });

        it("declares no alert resources when alerts are off", () => {
            assert.equal(ofType("aws:cloudwatch/eventRule:EventRule").length, 0);
            assert.equal(ofType("aws:sns/topic:Topic").length, 0);
        });

        it("keeps snapshots 14 days and copies them encrypted, with their tags, each Region with its own retention and key", () => {
            const { policyDetails, state } = one("aws:dlm/lifecyclePolicy:LifecyclePolicy").inputs;
            assert.equal(state, "DISABLED");
            const [schedule] = policyDetails.schedules;
            assert.deepEqual(schedule.retainRule, { interval: 14, intervalUnit: "DAYS" });
            assert.deepEqual(schedule.crossRegionCopyRules, [
                { targetRegion: "eu-central-1", encrypted: true, copyTags: true, retainRule: { interval: 14, intervalUnit: "DAYS" } },
                {
                    targetRegion: "us-west-2",
                    encrypted: true,
                    copyTags: true,
                    cmkArn: "arn:aws:kms:us-west-2:111122223333:key/abcd",
                    retainRule: { interval: 90, intervalUnit: "DAYS" },
                },
            ]);
            assert.deepEqual(schedule.fastRestoreRule, { availabilityZones: ["us-east-1a", "us-east-1b"], count: 2 });
            assert.deepEqual(schedule.tagsToAdd, { CreatedByPolicy: "consistent-snapshots", Env: "prod" });
            assert.equal(schedule.createRule.scripts.executeOperationOnScriptFailure, true);
            assert.equal(schedule.createRule.scripts.executionTimeout, 120);
        });

        it("may use the copy Region's key, and nothing else of KMS", () => {
            const policy = parsePolicy(one("aws:iam/rolePolicy:RolePolicy").inputs.policy);
            assert.deepEqual(statement(policy, "EncryptCopies").Resource, ["arn:aws:kms:us-west-2:111122223333:key/abcd"]);
            assert.ok(!statement(policy, "EncryptCopies").Action.includes("kms:CreateGrant"));
            const grants = statement(policy, "GrantKeysToEbsOnly");
            assert.deepEqual([grants.Action, grants.Resource], [["kms:CreateGrant"], ["arn:aws:kms:us-west-2:111122223333:key/abcd"]]);
            assert.deepEqual(
                grants.Condition,
                { Bool: { "kms:GrantIsForAWSResource": "true" } },
                "a grant only for an AWS service (EBS), as DLM's documentation has it",
            );
            assert.deepEqual(statement(policy, "RunScriptsOnTargets").Condition, { StringEquals: { "ssm:resourceTag/Backup": "Primary" } });
        });
    });

    describe("refuses what DLM would reject, naming the argument", () => {
        const base: SnapshotLifecyclePolicyArgs = { document: DOCUMENT, tagValue: "v" };
        const cases: [Partial<SnapshotLifecyclePolicyArgs>, RegExp][] = [
            [{ cronExpression: "rate(1 day)" }, /cronExpression 'rate\(1 day\)': expected cron\(\.\.\.\) of 17-106 characters, in UTC/],
            [{ retainCount: 3, retainDays: 3 }, /retainCount and retainDays: set one, not both/],
            [{ retainCount: 0 }, /retainCount 0: expected a whole number from 1 to 1000/],
            [{ copyToRegions: ["a-b-1", "c-d-2", "e-f-3", "g-h-4"].map((region) => ({ region })) }, /copyToRegions: 4 Regions; DLM copies to at most 3/],
            [{ copyToRegions: [{ region: "Frankfurt" }] }, /copyToRegions\[0\]\.region 'Frankfurt'/],
            [{ copyToRegions: [{ region: "eu-central-1", cmkArn: "alias/x" }] }, /copyToRegions\[0\]\.cmkArn 'alias\/x'/],
            [{ fastRestoreAvailabilityZones: ["use1-az1"] }, /fastRestoreAvailabilityZones\[0\] 'use1-az1'/],
            [{ scriptExecutionTimeoutSeconds: 5 }, /scriptExecutionTimeoutSeconds 5: expected a whole number from 10 to 120/],
            [{ scriptMaximumRetryCount: 4 }, /scriptMaximumRetryCount 4: expected a whole number from 0 to 3/],
            [{ tagsToAdd: { InstanceId: "i-0123" } }, /tagsToAdd\.InstanceId: reserved \(DLM tags each snapshot with its instance id/],
            [{ tagsToAdd: Object.fromEntries(Array.from({ length: 45 }, (_, n) => [`K${n}`, "v"])) }, /tagsToAdd: at most 44/],
        ];
        for (const [override, message] of cases) {
            it(`${JSON.stringify(override).slice(0, 70)}`, async () => {
                await useMocks("test");
                assert.match(lifecyclePolicyArgsErrors({ ...base, ...override }).join("; "), message);
                assert.throws(
                    () => new SnapshotLifecyclePolicy("bad", { ...base, ...override }),
                    new RegExp(`SnapshotLifecyclePolicy bad: .*${message.source}`),
                );
                await settle();
                assert.deepEqual(inventory(), {}, "declared something before refusing");
            });
        }
        it("accepts the defaults", () => assert.deepEqual(lifecyclePolicyArgsErrors(base), []));
    });

    describe("the pre-script's time (DLM's executionTimeout; it sends no post-script after a pre-script it gave up on)", () => {
        const script = fs.readFileSync(path.join(REPO_ROOT, "scripts", "consistent-snapshot.sh"), "utf8");
        it("counts as the script does: the freeze and hand-over reserves, BACKUP STAGE's 4 statements per attempt", () => {
            assert.match(script, new RegExp(`PRE_SCRIPT_HANDOVER_MS=${PRE_SCRIPT_BUDGET.handOverSeconds * 1000}\\b`));
            assert.match(script, new RegExp(`PRE_SCRIPT_FREEZE_MS=${PRE_SCRIPT_BUDGET.freezeSeconds * 1000}\\b`));
            assert.match(script, new RegExp(`"\\$BACKUP_STAGE"\\) statements=${PRE_SCRIPT_BUDGET.statementsPerAttempt} ;;`));
            assert.match(script, /for stage in START FLUSH BLOCK_DDL BLOCK_COMMIT; do/, "BACKUP STAGE takes 4 statements");
            assert.match(script, new RegExp(`\\(attempt > 1 \\? ${PRE_SCRIPT_BUDGET.secondsBetweenAttempts * 1000} : 0\\)`));
            assert.equal(preScriptWorstCaseSeconds(5, 3), 10 + 4 * 4 * 5 + 3 + 2 + 3);
        });
        it("accepts a SnapshotDocument's defaults with the default executionTimeout (120 s)", async () => {
            await useMocks("test");
            const document = new SnapshotDocument("doc", { tags: { DLMScriptsAccess: "true" } });
            assert.equal(document.parameterDefaults.preScriptSeconds, "120");
            assert.deepEqual(lifecyclePolicyArgsErrors({ document, tagValue: "v" }), []);
            await settle();
        });
        it("refuses a document whose pre-script may outlast a shorter executionTimeout, naming the parameters and what fits", async () => {
            await useMocks("test");
            const document = new SnapshotDocument("doc", { tags: { DLMScriptsAccess: "true" } });
            const errors = lifecyclePolicyArgsErrors({ document, tagValue: "v", scriptExecutionTimeoutSeconds: 60 });
            assert.equal(errors.length, 2, errors.join("\n"));
            assert.match(errors[0], /^document\.parameterDefaults\.preScriptSeconds 120: expected at most the scripts' executionTimeout, 60 s/);
            assert.match(
                errors[1],
                /^document\.parameterDefaults\.lockRetries 3 with document\.parameterDefaults\.lockTimeoutSeconds 5: a pre-script may take 98 s .*more than the 60 s DLM gives it; expected document\.parameterDefaults\.lockRetries at most 1\b/,
            );
            assert.throws(
                () => new SnapshotLifecyclePolicy("bad", { document, tagValue: "v", scriptExecutionTimeoutSeconds: 60 }),
                /SnapshotLifecyclePolicy bad: document\.parameterDefaults\.preScriptSeconds/,
            );
            const fitting = new SnapshotDocument("fits", { parameterDefaults: { preScriptSeconds: "60", lockRetries: "1" } });
            assert.deepEqual(lifecyclePolicyArgsErrors({ document: fitting, tagValue: "v", scriptExecutionTimeoutSeconds: 60 }), []);
            await settle();
        });
        it("cannot check a document given by name only (no parameterDefaults): the script still starts no attempt that would not fit", () => {
            assert.deepEqual(lifecyclePolicyArgsErrors({ document: DOCUMENT, tagValue: "v", scriptExecutionTimeoutSeconds: 10 }), []);
        });
    });
});
