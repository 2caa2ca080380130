import * as assert from "node:assert/strict";
import { SnapshotMaintenanceWindow } from "../../components/snapshotMaintenanceWindow";
import { ACCOUNT_ID, REGION, inventory, ofType, one, resources, settle, useMocks, value } from "./mocks";
import { actions, parsePolicy, statement } from "./policyAssertions";

const DOC_A = { documentName: "doc-a", documentArn: `arn:aws:ssm:${REGION}:${ACCOUNT_ID}:document/doc-a` };
const DOC_B = { documentName: "doc-b", documentArn: `arn:aws:ssm:${REGION}:${ACCOUNT_ID}:document/doc-b` };

describe("SnapshotMaintenanceWindow", () => {
    let bundle: SnapshotMaintenanceWindow;
    before(async () => {
        await useMocks("test");
        bundle = new SnapshotMaintenanceWindow("mw", {
            schedule: "rate(6 hours)", scheduleTimezone: "Europe/Paris", duration: 3, cutoff: 1, enabled: false, tagKey: "Backup",
            logRetentionDays: 90, commandTimeoutSeconds: 900,
            targets: [
                { name: "db", tagValue: "MySQL", document: DOC_A, maxConcurrency: "10%", maxErrors: "2", parameters: { maxFreezeSeconds: "20" } },
                { name: "fs", tagValue: "Files", document: DOC_B, priority: 5 },
            ],
        });
        await settle();
    });

    it("declares a window, a log group, a role with its policy, an instance policy, and a target and task per target", () => {
        assert.deepEqual(inventory(), {
            "consistent-snapshots:index:SnapshotMaintenanceWindow": 1, "aws:ssm/maintenanceWindow:MaintenanceWindow": 1,
            "aws:cloudwatch/logGroup:LogGroup": 1, "aws:iam/role:Role": 1, "aws:iam/rolePolicy:RolePolicy": 1, "aws:iam/policy:Policy": 1,
            "aws:ssm/maintenanceWindowTarget:MaintenanceWindowTarget": 2, "aws:ssm/maintenanceWindowTask:MaintenanceWindowTask": 2,
        });
    });

    it("passes the schedule, time zone, duration, cutoff and enabled through, and refuses unassociated targets", () => {
        const { inputs } = one("aws:ssm/maintenanceWindow:MaintenanceWindow");
        assert.deepEqual([inputs.schedule, inputs.scheduleTimezone, inputs.duration, inputs.cutoff, inputs.enabled, inputs.allowUnassociatedTargets],
            ["rate(6 hours)", "Europe/Paris", 3, 1, false, false]);
    });

    it("targets instances by tag only", () => {
        const targets = ofType("aws:ssm/maintenanceWindowTarget:MaintenanceWindowTarget");
        assert.deepEqual(targets.map((t) => [t.inputs.resourceType, t.inputs.targets]), [
            ["INSTANCE", [{ key: "tag:Backup", values: ["MySQL"] }]],
            ["INSTANCE", [{ key: "tag:Backup", values: ["Files"] }]],
        ]);
        const windowId = one("aws:ssm/maintenanceWindow:MaintenanceWindow").id;
        for (const t of targets) assert.equal(t.inputs.windowId, windowId);
    });

    it("wires each RUN_COMMAND task to its own target id, document, concurrency, errors and priority", () => {
        const targets = ofType("aws:ssm/maintenanceWindowTarget:MaintenanceWindowTarget");
        const tasks = ofType("aws:ssm/maintenanceWindowTask:MaintenanceWindowTask");
        const role = one("aws:iam/role:Role");
        assert.deepEqual(tasks.map((t) => [t.inputs.taskType, t.inputs.taskArn, t.inputs.maxConcurrency, t.inputs.maxErrors, t.inputs.priority]), [
            ["RUN_COMMAND", "doc-a", "10%", "2", 1],
            ["RUN_COMMAND", "doc-b", "1", "1", 5],
        ]);
        tasks.forEach((task, i) => {
            assert.deepEqual(task.inputs.targets, [{ key: "WindowTargetIds", values: [targets[i].id] }]);
            assert.equal(task.inputs.serviceRoleArn, `arn:aws:mock:${REGION}:${ACCOUNT_ID}:aws:iam/role:Role/${role.name}`);
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
        assert.deepEqual(actions(policy), ["ssm:CancelCommand", "ssm:GetCommandInvocation", "ssm:ListCommandInvocations",
            "ssm:ListCommands", "ssm:SendCommand"]);
        assert.deepEqual(statement(policy, "SendSnapshotDocuments").Resource, [DOC_A.documentArn, DOC_B.documentArn]);
        const instances = statement(policy, "ToTaggedInstancesOnly");
        assert.equal(instances.Resource, `arn:aws:ec2:${REGION}:${ACCOUNT_ID}:instance/*`);
        assert.deepEqual(instances.Condition, { StringEquals: { "ssm:resourceTag/Backup": ["MySQL", "Files"] } });
    });

    it("offers a managed instance policy for instances it did not create, keyed on the target tags", () => {
        const policy = parsePolicy(one("aws:iam/policy:Policy").inputs.policy);
        const snapshot = statement(policy, "SnapshotTaggedInstances");
        assert.deepEqual(snapshot.Condition, { StringEquals: { "aws:ResourceTag/Backup": ["MySQL", "Files"] } });
        assert.ok(actions(policy).includes("logs:PutLogEvents"));
    });

    it("exports window id, role ARN, target ids by name and the log group", async () => {
        assert.equal(await value(bundle.maintenanceWindowId), "mw-id");
        assert.deepEqual(await value(bundle.targetIds), { db: "mw-db-id", fs: "mw-fs-id" });
        assert.match(await value(bundle.logGroupName), /^mw-output/);
        assert.ok(resources.every((r) => r.type.startsWith("consistent-snapshots:") || r.name.startsWith("mw")));
    });

    it("refuses an empty target list and duplicate target names", () => {
        assert.throws(() => new SnapshotMaintenanceWindow("x", { targets: [] }), /at least one target/);
        assert.throws(() => new SnapshotMaintenanceWindow("y", {
            targets: [{ name: "a", tagValue: "1", document: DOC_A }, { name: "a", tagValue: "2", document: DOC_A }],
        }), /target name 'a' is used twice/);
    });
});
