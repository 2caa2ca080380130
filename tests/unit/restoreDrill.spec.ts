import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { RestoreDrill, drillUserData, restoreDrillArgsErrors, restoreDrillRunbookContent } from "../../components/restoreDrill";
import { carriedScript } from "../../components/snapshotDocument";
import { REPO_ROOT, ofType, one, settle, useMocks, value } from "./mocks";
import { parsePolicy, statement } from "./policyAssertions";

const SCOPE = {
    drillName: "drill",
    automationRoleArn: "arn:aws:iam::111122223333:role/drill-automation",
    launchTemplateId: "lt-0123456789abcdef0",
    verifyDocumentName: "drill-verify",
    metricNamespace: "ConsistentSnapshots",
    timeoutMinutes: 60,
    serverPackage: "auto",
    tagKey: "ConsistentSnapshot",
};
type Step = {
    name: string;
    action: string;
    onFailure?: string;
    onCancel?: string;
    nextStep?: string;
    isEnd?: boolean;
    inputs: Record<string, unknown>;
    outputs?: { Name: string }[];
};

describe("RestoreDrill runbook (restoreDrillRunbookContent)", () => {
    const runbook = restoreDrillRunbookContent(SCOPE) as unknown as { mainSteps: Step[]; assumeRole: string; parameters: Record<string, unknown> };
    const steps = runbook.mainSteps;
    const names = steps.map((s) => s.name);

    it("runs as its Automation role, in the order choose, launch, wait, verify, record, count, clean up", () => {
        assert.equal(runbook.assumeRole, SCOPE.automationRoleArn);
        assert.deepEqual(names, [
            "chooseSnapshotSet",
            "launchDrillInstance",
            "waitForManagedInstance",
            "verifyRestore",
            "recordSuccess",
            "countSuccess",
            "recordFailure",
            "countFailure",
            "cleanUp",
        ]);
    });

    it("sends every failure and every cancel to a step that ends in cleanUp, which ends the runbook", () => {
        for (const step of steps.filter((s) => s.name !== "cleanUp")) {
            assert.ok(step.onCancel === "step:cleanUp", `${step.name} has no cancel path to cleanUp`);
            const target = step.onFailure === "Continue" ? names[names.indexOf(step.name) + 1] : step.onFailure?.replace(/^step:/, "");
            assert.ok(target && names.includes(target), `${step.name}: onFailure ${step.onFailure} goes nowhere`);
            // Following the failure path always reaches cleanUp.
            let at = target;
            for (let hops = 0; at !== "cleanUp"; hops++) {
                assert.ok(hops < names.length, `${step.name}'s failure path loops`);
                const next = steps.find((s) => s.name === at)!;
                at = next.nextStep ?? names[names.indexOf(at) + 1];
            }
        }
        const cleanUp = steps.at(-1)!;
        assert.equal(cleanUp.isEnd, true);
        assert.equal(steps.find((s) => s.name === "countSuccess")!.nextStep, "cleanUp", "the success path skips the failure steps");
        // The failure path's own steps may fail (no set chosen: nothing to tag) without stopping the clean-up.
        assert.deepEqual(
            steps.filter((s) => s.name === "recordFailure" || s.name === "countFailure").map((s) => s.onFailure),
            ["Continue", "Continue"],
        );
    });

    it("refers only to outputs an earlier step declares, and to its own parameters", () => {
        const text = JSON.stringify(steps);
        for (const [, step, output] of text.matchAll(/\{\{\s*([A-Za-z]+)\.([A-Za-z]+)\s*\}\}/g)) {
            const producer = steps.find((s) => s.name === step);
            assert.ok(producer, `{{${step}.${output}}}: no step ${step}`);
            const declared = producer.outputs?.map((o) => o.Name) ?? (producer.action === "aws:executeAwsApi" ? [] : []);
            assert.ok(declared.includes(output), `{{${step}.${output}}}: ${step} declares no ${output}`);
        }
        for (const [, parameter] of text.matchAll(/\{\{\s*([A-Za-z]+)\s*\}\}/g))
            assert.ok(parameter in runbook.parameters, `{{${parameter}}} is not a parameter`);
    });

    it("carries scripts/restore-drill.py verbatim in both script steps, each with its handler (python3.11)", () => {
        const script = fs.readFileSync(path.join(REPO_ROOT, "scripts", "restore-drill.py"), "utf8");
        const scripted = steps.filter((s) => s.action === "aws:executeScript");
        assert.deepEqual(
            scripted.map((s) => [s.inputs.Runtime, s.inputs.Handler, s.inputs.Script === script]),
            [
                ["python3.11", "choose_snapshot_set", true],
                ["python3.11", "clean_up", true],
            ],
        );
    });

    it("launches from the template with the chosen set's volumes, tagged with the drill and the execution", () => {
        const launch = steps.find((s) => s.name === "launchDrillInstance")!.inputs;
        assert.deepEqual(launch.LaunchTemplate, { LaunchTemplateId: SCOPE.launchTemplateId, Version: "$Default" });
        assert.equal(launch.BlockDeviceMappings, "{{chooseSnapshotSet.BlockDeviceMappings}}");
        const tags = (launch.TagSpecifications as { ResourceType: string; Tags: { Key: string; Value: string }[] }[]).map((t) => [
            t.ResourceType,
            Object.fromEntries(t.Tags.map((x) => [x.Key, x.Value])),
        ]);
        for (const [, t] of tags) {
            assert.equal((t as Record<string, string>).ConsistentSnapshotsDrill, "drill");
            assert.equal((t as Record<string, string>).RestoreDrillExecution, "{{automation:EXECUTION_ID}}");
        }
        assert.deepEqual(
            tags.map(([type]) => type),
            ["instance", "volume"],
        );
    });

    it("verifies within the instance's deadline less 10 minutes, and tags the snapshots passed or failed", () => {
        assert.equal(steps.find((s) => s.name === "verifyRestore")!.inputs.DocumentName, "drill-verify");
        assert.equal((steps.find((s) => s.name === "verifyRestore") as unknown as { timeoutSeconds: number }).timeoutSeconds, 50 * 60);
        const result = (name: string) =>
            (steps.find((s) => s.name === name)!.inputs.Tags as { Key: string; Value: string }[]).find((t) => t.Key === "RestoreResult")!.Value;
        assert.deepEqual([result("recordSuccess"), result("recordFailure")], ["passed", "failed"]);
    });
});

describe("RestoreDrill drill instance deadline (drillUserData)", () => {
    it("powers the instance off at its deadline (its shutdown behaviour terminates it)", () => {
        assert.match(drillUserData(45), /^#!\/bin\/bash\n/);
        assert.match(drillUserData(45), /\nshutdown -h \+45 /);
    });
});

describe("RestoreDrill argument checks (restoreDrillArgsErrors)", () => {
    const base = { targets: [{ name: "main", tagValue: "v" }], subnetId: "subnet-0123456789abcdef0" };
    it("accepts the defaults", () => assert.deepEqual(restoreDrillArgsErrors(base), []));
    for (const [field, value, why] of [
        ["subnetId", "", /subnetId: required/],
        ["subnetId", "sn-1", /subnetId: "sn-1" is not valid; expected a subnet id/],
        ["schedule", "cron(0 0 6 ? * SUN *)", /schedule: .*Seconds/],
        ["schedule", "weekly", /schedule: "weekly" is not valid/],
        ["scheduleTimezone", "Paris", /scheduleTimezone/],
        ["timeoutMinutes", 10, /timeoutMinutes: 10 is not valid; expected a whole number of minutes from 20 to 720/],
        ["imageId", "ubuntu", /imageId: "ubuntu" is not valid; expected an AMI id/],
        ["serverPackage", "x;rm", /serverPackage/],
        ["instanceType", "big", /instanceType/],
    ] as const) {
        it(`names ${field} for ${JSON.stringify(value)}`, () => {
            const errors = restoreDrillArgsErrors({ ...base, [field]: value });
            assert.equal(errors.length, 1, errors.join("; "));
            assert.match(errors[0], why);
        });
    }
    it("refuses before anything is registered", () => {
        assert.throws(() => new RestoreDrill("bad", { ...base, timeoutMinutes: 5 }), /RestoreDrill bad: timeoutMinutes/);
    });
});

describe("RestoreDrill", () => {
    before(async () => {
        await useMocks("test");
        new RestoreDrill("drill", {
            targets: [{ name: "main", tagValue: "AmazonLinuxMySQL" }],
            subnetId: "subnet-0123456789abcdef0",
            alertEmail: "oncall@example.com",
        });
        await settle();
    });

    it("launches IMDSv2-only, without a public address, terminating on shutdown, standard credits, with the deadline in its user data", () => {
        const t = one("aws:ec2/launchTemplate:LaunchTemplate").inputs;
        assert.deepEqual(t.metadataOptions, { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1, instanceMetadataTags: "disabled" });
        assert.equal(t.instanceInitiatedShutdownBehavior, "terminate");
        assert.equal(t.networkInterfaces[0].associatePublicIpAddress, "false");
        assert.equal(t.networkInterfaces[0].subnetId, "subnet-0123456789abcdef0");
        assert.deepEqual(t.creditSpecification, { cpuCredits: "standard" });
        assert.equal(t.instanceType, "t3.small");
        assert.match(t.imageId, /^resolve:ssm:\/aws\/service\/ami-amazon-linux-latest\/al2023/);
        assert.equal(Buffer.from(t.userData, "base64").toString(), drillUserData(60));
    });

    it("gives the instance a security group without inbound rules, in the subnet's VPC", () => {
        const sg = ofType("aws:ec2/securityGroup:SecurityGroup")[0].inputs;
        assert.equal(sg.ingress, undefined);
        assert.deepEqual(
            sg.egress.map((e: { fromPort: number; toPort: number }) => [e.fromPort, e.toPort]),
            [[443, 443]],
        );
        assert.equal(sg.vpcId, "vpc-0123");
    });

    it("gives the instance a role that can take Run Command and nothing else", () => {
        const policy = ofType("aws:iam/rolePolicy:RolePolicy").find((p) => p.name === "drill-instance")!.inputs.policy;
        const actions = statement(parsePolicy(policy), "SsmAgentRunCommand").Action;
        assert.ok(
            actions.every((a) => /^(ssm|ssmmessages|ec2messages):/.test(a)),
            actions.join(","),
        );
        assert.ok(!actions.some((a) => /SendCommand|GetParameter|\*/.test(a)));
    });

    it("carries restore-verify.sh byte for byte in its verify document", () => {
        const doc = ofType("aws:ssm/document:Document").find((d) => d.name === "drill-verify")!.inputs;
        const content = JSON.parse(doc.content);
        const carried = carriedScript(content.mainSteps[0].inputs.runCommand[0]);
        assert.equal(carried.text, fs.readFileSync(path.join(REPO_ROOT, "scripts", "restore-verify.sh"), "utf8"));
        assert.equal(content.parameters.datadir.default, "auto");
    });

    it("schedules each target weekly through EventBridge Scheduler, starting the runbook with the target's tag", () => {
        const schedule = one("aws:scheduler/schedule:Schedule").inputs;
        assert.equal(schedule.scheduleExpression, "cron(0 6 ? * SUN *)");
        assert.equal(schedule.target.arn, "arn:aws:scheduler:::aws-sdk:ssm:startAutomationExecution");
        assert.deepEqual(JSON.parse(schedule.target.input).Parameters, { Target: ["main"], TagKey: ["ConsistentSnapshot"], TagValue: ["AmazonLinuxMySQL"] });
        assert.equal(schedule.target.retryPolicy.maximumRetryAttempts, 0);
    });

    it("alerts on a failed, timed-out or cancelled drill (its own topic here, with the e-mail subscribed)", () => {
        const rule = ofType("aws:cloudwatch/eventRule:EventRule").find((r) => r.name === "drill-drill-failed")!.inputs;
        const pattern = JSON.parse(rule.eventPattern);
        assert.deepEqual(pattern["detail-type"], ["EC2 Automation Execution Status-change Notification"]);
        assert.deepEqual(pattern.detail.Status, ["Failed", "TimedOut", "Cancelled"]);
        assert.equal(one("aws:sns/topicSubscription:TopicSubscription").inputs.endpoint, "oncall@example.com");
    });

    it("alerts when a drill could not be started: the schedules in a group of their own, an alarm on its Scheduler errors", async () => {
        const group = one("aws:scheduler/scheduleGroup:ScheduleGroup");
        const groupName = `${group.name}-a1b2c3`;
        assert.equal(one("aws:scheduler/schedule:Schedule").inputs.groupName, groupName);
        const alarm = one("aws:cloudwatch/metricAlarm:MetricAlarm").inputs;
        assert.deepEqual(
            alarm.metricQueries
                .filter((q: { metric?: unknown }) => q.metric)
                .map((q: { metric: { namespace: string; metricName: string; dimensions: unknown } }) => [
                    q.metric.namespace,
                    q.metric.metricName,
                    q.metric.dimensions,
                ]),
            [
                ["AWS/Scheduler", "TargetErrorCount", { ScheduleGroup: groupName }],
                ["AWS/Scheduler", "InvocationDroppedCount", { ScheduleGroup: groupName }],
            ],
        );
        assert.deepEqual([alarm.comparisonOperator, alarm.threshold, alarm.treatMissingData], ["GreaterThanOrEqualToThreshold", 1, "notBreaching"]);
        const rule = ofType("aws:cloudwatch/eventRule:EventRule").find((r) => r.name === "drill-drill-not-started")!.inputs;
        assert.deepEqual(JSON.parse(await value(rule.eventPattern))["detail-type"], ["CloudWatch Alarm State Change"]);
    });
});

/** Runs a handler of scripts/restore-drill.py under python3 with a stand-in boto3 that answers from `world`. */
function python(
    handler: string,
    events: Record<string, string>,
    world: { instances?: string[]; snapshots?: unknown[] },
): { ok: boolean; result: unknown; calls: unknown[] } {
    const harness = `
import json, sys, types
world = json.loads(sys.argv[1]); calls = []
class Paginator:
    def __init__(self, op): self.op = op
    def paginate(self, **kw):
        calls.append([self.op, kw])
        if self.op == "describe_instances":
            yield {"Reservations": [{"Instances": [{"InstanceId": i} for i in world.get("instances", [])]}]}
        else:
            yield {"Snapshots": world.get("snapshots", [])}
class Client:
    def get_paginator(self, op): return Paginator(op)
    def terminate_instances(self, **kw): calls.append(["terminate_instances", kw])
boto3 = types.ModuleType("boto3"); boto3.client = lambda *a, **k: Client()
config = types.ModuleType("botocore.config"); config.Config = lambda **k: None
sys.modules.update({"boto3": boto3, "botocore": types.ModuleType("botocore"), "botocore.config": config})
sys.path.insert(0, sys.argv[3])
drill = __import__("restore-drill".replace("-", "_"))
try:
    print(json.dumps({"ok": True, "result": getattr(drill, sys.argv[2])(json.loads(sys.argv[4]), None), "calls": calls}))
except drill.DrillError as e:
    print(json.dumps({"ok": False, "result": str(e), "calls": calls}))
`;
    // The runbook runs the file as given; here it is imported under a module name Python accepts.
    const dir = fs.mkdtempSync("/tmp/restore-drill-py.");
    try {
        fs.copyFileSync(path.join(REPO_ROOT, "scripts", "restore-drill.py"), path.join(dir, "restore_drill.py"));
        const run = spawnSync("python3", ["-c", harness, JSON.stringify(world), handler, dir, JSON.stringify(events)], { encoding: "utf8" });
        assert.equal(run.status, 0, run.stderr);
        return JSON.parse(run.stdout.trim().split("\n").at(-1)!);
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

const snap = (id: string, runId: string, start: string, extra: Record<string, string> = {}, state = "completed") => ({
    SnapshotId: id,
    State: state,
    StartTime: start,
    Tags: Object.entries({
        CreatedBy: "consistent-snapshots",
        InstanceId: "i-0aaaaaaaaaaaaaaa1",
        RunId: runId,
        ConsistencyMethod: "ftwrl+fsfreeze",
        VolumeCount: "2",
        ...extra,
    }).map(([Key, Value]) => ({ Key, Value })),
});
const TARGET_EVENTS = { TagKey: "ConsistentSnapshot", TagValue: "AmazonLinuxMySQL", RunId: "", ServerPackage: "auto" };

describe("scripts/restore-drill.py (the runbook's script steps, under python3 with a stand-in boto3)", () => {
    it("restores the newest whole, completed, consistent set, with its binlog position and the server package of its version", () => {
        const out = python("choose_snapshot_set", TARGET_EVENTS, {
            instances: ["i-0aaaaaaaaaaaaaaa1"],
            snapshots: [
                snap("snap-old1", "run-old", "2026-12-01T00:00:00Z"),
                snap("snap-old2", "run-old", "2026-12-01T00:00:00Z"),
                snap("snap-new1", "run-new", "2026-12-05T00:00:00Z", {
                    BinlogFile: "mysql-bin.000042",
                    BinlogPosition: "123",
                    DatabaseVersion: "mariadb 10.11.6",
                }),
                snap("snap-new2", "run-new", "2026-12-05T00:00:00Z", {
                    BinlogFile: "mysql-bin.000042",
                    BinlogPosition: "123",
                    DatabaseVersion: "mariadb 10.11.6",
                }),
            ],
        });
        assert.ok(out.ok, String(out.result));
        const r = out.result as Record<string, unknown>;
        assert.equal(r.RunId, "run-new");
        assert.deepEqual(r.SnapshotIds, ["snap-new1", "snap-new2"]);
        assert.equal(r.Devices, "/dev/sdf /dev/sdg");
        assert.deepEqual((r.BlockDeviceMappings as unknown[])[0], {
            DeviceName: "/dev/sdf",
            Ebs: { SnapshotId: "snap-new1", VolumeType: "gp3", Encrypted: true, DeleteOnTermination: true },
        });
        assert.deepEqual([r.ExpectBinlogFile, r.ExpectBinlogPosition, r.ServerPackage], ["mysql-bin.000042", "123", "mariadb1011-server"]);
        // Snapshots of the target's instances only, this account's.
        assert.deepEqual(out.calls[1], ["describe_snapshots", { OwnerIds: ["self"], Filters: [{ Name: "tag:InstanceId", Values: ["i-0aaaaaaaaaaaaaaa1"] }] }]);
    });

    it("skips an incomplete set, one still pending, one without ConsistencyMethod and another tool's snapshots", () => {
        const out = python("choose_snapshot_set", TARGET_EVENTS, {
            instances: ["i-0aaaaaaaaaaaaaaa1"],
            snapshots: [
                snap("snap-ok1", "run-ok", "2026-12-01T00:00:00Z"),
                snap("snap-ok2", "run-ok", "2026-12-01T00:00:00Z"),
                snap("snap-inc", "run-incomplete", "2026-12-05T00:00:00Z"),
                snap("snap-p1", "run-pending", "2026-12-04T00:00:00Z", {}, "pending"),
                snap("snap-p2", "run-pending", "2026-12-04T00:00:00Z"),
                snap("snap-x1", "run-unknown", "2026-12-03T00:00:00Z", { ConsistencyMethod: "" }),
                snap("snap-x2", "run-unknown", "2026-12-03T00:00:00Z", { ConsistencyMethod: "" }),
                snap("snap-o1", "run-other", "2026-12-06T00:00:00Z", { CreatedBy: "someone-else" }),
                snap("snap-o2", "run-other", "2026-12-06T00:00:00Z", { CreatedBy: "someone-else" }),
            ],
        });
        assert.ok(out.ok, String(out.result));
        assert.equal((out.result as Record<string, unknown>).RunId, "run-ok");
    });

    it("says why when no set can be restored, and when a given RunId's set cannot", () => {
        const none = python("choose_snapshot_set", TARGET_EVENTS, {
            instances: ["i-0aaaaaaaaaaaaaaa1"],
            snapshots: [snap("snap-inc", "run-1", "2026-12-05T00:00:00Z")],
        });
        assert.equal(none.ok, false);
        assert.match(String(none.result), /no whole, completed, consistent snapshot set: skipped run-1 \(1 of its 2 snapshots exist/);
        const untagged = python("choose_snapshot_set", TARGET_EVENTS, { instances: [] });
        assert.match(String(untagged.result), /no instance is tagged ConsistentSnapshot=AmazonLinuxMySQL/);
        const byRun = python("choose_snapshot_set", { ...TARGET_EVENTS, RunId: "run-1" }, { snapshots: [snap("snap-inc", "run-1", "2026-12-05T00:00:00Z")] });
        assert.match(String(byRun.result), /run run-1 cannot be restored: 1 of its 2 snapshots exist/);
        const hostile = python("choose_snapshot_set", { ...TARGET_EVENTS, RunId: "x; rm -rf /" }, {});
        assert.match(String(hostile.result), /is not a run id/);
    });

    it("passes on no binlog position that is not one (tags are data from the hosts)", () => {
        const out = python("choose_snapshot_set", TARGET_EVENTS, {
            instances: ["i-0aaaaaaaaaaaaaaa1"],
            snapshots: ["a", "b"].map((x) => snap(`snap-${x}`, "run-1", "2026-12-05T00:00:00Z", { BinlogFile: "../../etc/passwd", BinlogPosition: "1" })),
        });
        assert.deepEqual([(out.result as Record<string, string>).ExpectBinlogFile, (out.result as Record<string, string>).ExpectBinlogPosition], ["", ""]);
    });

    it("clean_up terminates what this execution of this drill launched, found by tag, and nothing when nothing was", () => {
        const out = python("clean_up", { ExecutionId: "exec-1", Drill: "drill" }, { instances: ["i-0ccccccccccccccc3"] });
        assert.deepEqual(out.calls, [
            [
                "describe_instances",
                {
                    Filters: [
                        { Name: "tag:RestoreDrillExecution", Values: ["exec-1"] },
                        { Name: "tag:ConsistentSnapshotsDrill", Values: ["drill"] },
                        { Name: "instance-state-name", Values: ["pending", "running", "stopping", "stopped"] },
                    ],
                },
            ],
            ["terminate_instances", { InstanceIds: ["i-0ccccccccccccccc3"] }],
        ]);
        const nothing = python("clean_up", { ExecutionId: "exec-2", Drill: "drill" }, { instances: [] });
        assert.equal(nothing.calls.length, 1);
    });
});
