import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { AlertRule, failureAlerts } from "./alerts";
import { DEFAULT_METRIC_NAMESPACE, DRILL_METRICS, alarmPattern } from "./monitoring";
import { readScript } from "./paths";
import {
    DRILL_EXECUTION_TAG_KEY,
    DRILL_TAG_KEY,
    accountContext,
    restoreDrillAutomationPolicy,
    restoreDrillInstancePolicy,
    restoreDrillSchedulerPolicy,
    serviceTrustPolicy,
} from "./policies";
import { DEFAULT_TAG_KEY, isIanaTimeZone, tagError } from "./rules";
import { scheduleError } from "./schedule";
import { documentCommand } from "./snapshotDocument";
import { RUN_ID_TAG_KEY } from "./snapshotTags";

// A restore drill proves that a target's newest snapshot set restores: an SSM Automation runbook (started weekly by
// EventBridge Scheduler, or on demand by `npx consistent-snapshots verify`) chooses the set, launches a short-lived
// instance from the drill's launch template with a volume created from each snapshot, runs restore-verify.sh on it
// (the server starts on the copy, every table checks, the binlog ends at the tagged position), tags the snapshots
// with the result, counts it as a metric and terminates the instance, whose volumes go with it. Every failure and
// a cancel go to the clean-up step; the instance also powers itself off (and so terminates) at its deadline, should
// the runbook itself be lost.

/** One group of instances (by tag) whose newest snapshot set a drill restores. */
export interface RestoreDrillTargetArgs {
    /** The target's name (its metric dimension `Target`, as the snapshot runs'). Required. AWS constraint: 1-255 characters. */
    name: string;
    /** The drill restores snapshots of instances tagged `<tagKey>=<tagValue>`. Required. AWS constraint: EC2 tag value rules. */
    tagValue: string;
}

/** Where, when and on what a drill runs: what a SnapshotMaintenanceWindow's `restoreDrill` takes. */
export interface RestoreDrillRunArgs {
    /**
     * The subnet the drill instance runs in: private, with the SSM endpoints (ssm, ssmmessages, ec2messages) or a NAT
     * gateway, and the S3 gateway endpoint when the server is installed from Amazon Linux's repositories (a
     * `Network` in private mode has all of them). Required. Its Availability Zone is where the volumes are created.
     */
    subnetId: pulumi.Input<string>;
    /** When drills run (EventBridge Scheduler: cron(Minutes Hours Day-of-month Month Day-of-week Year), rate(...) or at(...)). Default: `cron(0 6 ? * SUN *)` (Sundays 06:00). */
    schedule?: string;
    /** IANA time zone of the schedule. Default: `UTC`. */
    scheduleTimezone?: string;
    /** Whether the schedules run (the runbook can still be started on demand). Default: true. */
    enabled?: boolean;
    /** The drill instance's type: the cost bound, with `timeoutMinutes`. Default: `t3.small` (burstable, standard credits: no surplus charges). */
    instanceType?: string;
    /**
     * The drill instance's image: an AMI id or `resolve:ssm:<public parameter>`. It needs the SSM Agent, bash, and the
     * database server of the snapshots' version (or a package manager to install `serverPackage`). Default: the newest
     * Amazon Linux 2023 (`resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64`).
     */
    imageId?: string;
    /**
     * Minutes a drill instance lives at most: it powers itself off then (shutdown behaviour terminate, so its volumes
     * are deleted) whatever happened to the runbook; the verify step's own timeout is 10 minutes less. Default: 60.
     * Constraint: 20-720.
     */
    timeoutMinutes?: number;
    /**
     * The server package restore-verify.sh installs when the image has no server: `auto` (from the snapshots'
     * DatabaseVersion tag: mariadb105-server or mariadb1011-server on Amazon Linux 2023), `none`, or a package name.
     * Default: `auto`.
     */
    serverPackage?: string;
}

export interface RestoreDrillArgs extends RestoreDrillRunArgs {
    /** The targets, each drilled on the schedule. Required, at least one. */
    targets: RestoreDrillTargetArgs[];
    /** Tag key that selects the instances. Default: `ConsistentSnapshot`. */
    tagKey?: string;
    /** CloudWatch namespace of the drill metrics (RestoreDrillsSucceeded, RestoreDrillsFailed; dimension Target). Default: `ConsistentSnapshots`. */
    metricNamespace?: string;
    /**
     * Alert when a drill fails, times out or is cancelled (an EventBridge rule on the runbook's executions). Default:
     * true. A SnapshotMaintenanceWindow given `restoreDrill` routes them to its own alert topic instead.
     */
    alertsEnabled?: boolean;
    /** Publish alerts to this existing SNS topic (its policy must let `events.amazonaws.com` publish). Default: a new topic. */
    alertTopicArn?: pulumi.Input<string>;
    /** Subscribe this e-mail address to the alerts. Default: none. */
    alertEmail?: string;
    /** Tags for every resource that takes tags. Default: none. */
    tags?: Record<string, string>;
}

/** The drill's defaults (what the Args' TSDoc says). */
export const RESTORE_DRILL_DEFAULTS = Object.freeze({
    tagKey: DEFAULT_TAG_KEY,
    schedule: "cron(0 6 ? * SUN *)",
    scheduleTimezone: "UTC",
    enabled: true,
    instanceType: "t3.small",
    imageId: "resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
    timeoutMinutes: 60,
    serverPackage: "auto",
    alertsEnabled: true,
});

/** Automation statuses that mean a drill did not prove its set. */
export const FAILED_AUTOMATION_STATUSES = ["Failed", "TimedOut", "Cancelled"];

/** EventBridge pattern: an execution of the drill runbook ended without success (SSM's "EC2 Automation Execution Status-change Notification"). */
export function drillFailedPattern(automationDocumentName: string): string {
    return JSON.stringify({
        source: ["aws.ssm"],
        "detail-type": ["EC2 Automation Execution Status-change Notification"],
        detail: { Definition: [automationDocumentName], Status: FAILED_AUTOMATION_STATUSES },
    });
}

export const DRILL_FAILED_MESSAGE = {
    inputPaths: { status: "$.detail.Status", execution: "$.detail.ExecutionId", time: "$.time", region: "$.region" },
    inputTemplate:
        '"consistent-snapshots: a RESTORE DRILL is <status> at <time> (<region>, execution <execution>): a snapshot set did not prove it restores, ' +
        "or none could be tried. The snapshots it tried are tagged RestoreResult=failed; `aws ssm get-automation-execution --automation-execution-id <execution>` " +
        "shows the failed step and restore-verify.sh's summary.\"",
};

/** EventBridge Scheduler's metrics (AWS/Scheduler, per schedule group) that mean a drill was not started. */
export const SCHEDULER_FAILURE_METRICS = ["TargetErrorCount", "InvocationDroppedCount"] as const;

export const DRILL_NOT_STARTED_MESSAGE = {
    inputPaths: { alarm: "$.detail.alarmName", reason: "$.detail.state.reason", time: "$.time", region: "$.region" },
    inputTemplate:
        '"consistent-snapshots: a RESTORE DRILL could not be started (<alarm>, <region>, <time>): <reason>. EventBridge Scheduler could not ' +
        "start the drill runbook (its role, or the runbook); no drill ran. `aws scheduler list-schedules` and the schedule group's AWS/Scheduler metrics say which.\"",
};

/** The alert rule of a drill runbook's failed executions. */
export function drillAlertRule(automationDocumentName: pulumi.Input<string>): AlertRule {
    return {
        suffix: "drill-failed",
        description: "consistent-snapshots: a restore drill failed, timed out or was cancelled",
        eventPattern: pulumi.output(automationDocumentName).apply(drillFailedPattern),
        message: DRILL_FAILED_MESSAGE,
    };
}

/** The parameters of restore-verify.sh the verify document declares (SSM_<name>), each checked by SSM and again by the script. */
export const RESTORE_VERIFY_PARAMETERS = Object.freeze({
    devices: { default: "", allowedPattern: "^(/dev/[A-Za-z0-9._/-]+( +/dev/[A-Za-z0-9._/-]+)*)?$", description: "Restored volumes' device names." },
    restoreRoot: { default: "/restore", allowedPattern: "^/[A-Za-z0-9._/-]+$", description: "Where the devices are mounted." },
    datadir: { default: "auto", allowedPattern: "^(auto|/[A-Za-z0-9._/-]+)$", description: "datadir on the copy, or auto." },
    innodbLogDir: { default: "auto", allowedPattern: "^(auto|/[A-Za-z0-9._/-]+)$", description: "InnoDB redo log directory, or auto." },
    binlogDir: { default: "auto", allowedPattern: "^(|auto|/[A-Za-z0-9._/-]+)$", description: "Binlog directory, auto, or empty for none." },
    expectBinlogFile: { default: "", allowedPattern: "^[A-Za-z0-9._-]{0,255}$", description: "The snapshots' BinlogFile tag." },
    expectBinlogPosition: { default: "", allowedPattern: "^[0-9]{0,20}$", description: "The snapshots' BinlogPosition tag." },
    serverPackage: { default: "", allowedPattern: "^([A-Za-z0-9][A-Za-z0-9.+_-]{0,99})?$", description: "Package to install when no server is." },
});

/** The Command document that runs restore-verify.sh (schema 2.2), the script carried byte for byte. */
export function verifyDocumentContent(timeoutSeconds: number) {
    return {
        schemaVersion: "2.2",
        description:
            "consistent-snapshots restore drill: mount the restored volumes, start a private server on the copy, CHECK TABLE every table, compare the binlog with the tags.",
        parameters: Object.fromEntries(
            Object.entries(RESTORE_VERIFY_PARAMETERS).map(([name, p]) => [name, { type: "String", ...p, interpolationType: "ENV_VAR" }]),
        ),
        mainSteps: [
            {
                action: "aws:runShellScript",
                name: "restoreVerify",
                precondition: { StringEquals: ["platformType", "Linux"] },
                inputs: { timeoutSeconds: String(timeoutSeconds), runCommand: [documentCommand("restore-verify.sh", Object.keys(RESTORE_VERIFY_PARAMETERS))] },
            },
        ],
    };
}

/** What the runbook refers to, known once the drill's other resources exist. */
export interface RunbookScope {
    drillName: string;
    automationRoleArn: string;
    launchTemplateId: string;
    verifyDocumentName: string;
    metricNamespace: string;
    timeoutMinutes: number;
    serverPackage: string;
    tagKey: string;
}

/** The restore-drill runbook (SSM Automation, schema 0.3). Steps in order; each failure path ends at cleanUp. */
export function restoreDrillRunbookContent(scope: RunbookScope) {
    const script = readScript("restore-drill.py");
    const drillTags = [
        { Key: DRILL_TAG_KEY, Value: scope.drillName },
        { Key: DRILL_EXECUTION_TAG_KEY, Value: "{{automation:EXECUTION_ID}}" },
        { Key: RUN_ID_TAG_KEY, Value: "{{chooseSnapshotSet.RunId}}" },
        { Key: "Name", Value: "consistent-snapshots restore drill {{Target}}" },
    ];
    const count = (metricName: string) => ({
        Service: "cloudwatch",
        Api: "PutMetricData",
        Namespace: scope.metricNamespace,
        MetricData: [{ MetricName: metricName, Dimensions: [{ Name: "Target", Value: "{{Target}}" }], Value: 1, Unit: "Count" }],
    });
    const resultTags = (result: string) => ({
        Service: "ec2",
        Api: "CreateTags",
        Resources: "{{chooseSnapshotSet.SnapshotIds}}",
        Tags: [
            { Key: "RestoreVerifiedAt", Value: "{{global:DATE_TIME}}" },
            { Key: "RestoreResult", Value: result },
            { Key: DRILL_EXECUTION_TAG_KEY, Value: "{{automation:EXECUTION_ID}}" },
        ],
    });
    const toCleanUp = { onCancel: "step:cleanUp" };
    return {
        schemaVersion: "0.3",
        description:
            "consistent-snapshots restore drill: restore a target's newest consistent snapshot set (or RunId's) on a short-lived instance, " +
            "verify it with restore-verify.sh, tag the snapshots RestoreResult/RestoreVerifiedAt, count it, and terminate the instance.",
        assumeRole: scope.automationRoleArn,
        parameters: {
            Target: { type: "String", description: "The target's name (metric dimension).", allowedPattern: "^[A-Za-z0-9_.-]{1,128}$" },
            TagKey: { type: "String", description: "Tag key selecting the target's instances.", default: scope.tagKey },
            TagValue: { type: "String", description: "Tag value selecting the target's instances.", default: "" },
            RunId: { type: "String", description: "Restore this run's set instead of the newest.", default: "", allowedPattern: "^[A-Za-z0-9._:-]{0,128}$" },
            ServerPackage: { type: "String", description: "auto, none, or a package name.", default: scope.serverPackage },
        },
        mainSteps: [
            {
                name: "chooseSnapshotSet",
                action: "aws:executeScript",
                timeoutSeconds: 300,
                onFailure: "step:recordFailure",
                ...toCleanUp,
                inputs: {
                    Runtime: "python3.11",
                    Handler: "choose_snapshot_set",
                    Script: script,
                    InputPayload: { TagKey: "{{TagKey}}", TagValue: "{{TagValue}}", RunId: "{{RunId}}", ServerPackage: "{{ServerPackage}}" },
                },
                outputs: [
                    { Name: "RunId", Selector: "$.Payload.RunId", Type: "String" },
                    { Name: "SourceInstanceId", Selector: "$.Payload.SourceInstanceId", Type: "String" },
                    { Name: "SnapshotIds", Selector: "$.Payload.SnapshotIds", Type: "StringList" },
                    { Name: "BlockDeviceMappings", Selector: "$.Payload.BlockDeviceMappings", Type: "MapList" },
                    { Name: "Devices", Selector: "$.Payload.Devices", Type: "String" },
                    { Name: "ExpectBinlogFile", Selector: "$.Payload.ExpectBinlogFile", Type: "String" },
                    { Name: "ExpectBinlogPosition", Selector: "$.Payload.ExpectBinlogPosition", Type: "String" },
                    { Name: "ServerPackage", Selector: "$.Payload.ServerPackage", Type: "String" },
                ],
            },
            {
                name: "launchDrillInstance",
                action: "aws:executeAwsApi",
                timeoutSeconds: 300,
                onFailure: "step:recordFailure",
                ...toCleanUp,
                inputs: {
                    Service: "ec2",
                    Api: "RunInstances",
                    LaunchTemplate: { LaunchTemplateId: scope.launchTemplateId, Version: "$Default" },
                    MinCount: 1,
                    MaxCount: 1,
                    BlockDeviceMappings: "{{chooseSnapshotSet.BlockDeviceMappings}}",
                    TagSpecifications: [
                        { ResourceType: "instance", Tags: drillTags },
                        { ResourceType: "volume", Tags: drillTags },
                    ],
                },
                outputs: [{ Name: "InstanceId", Selector: "$.Instances[0].InstanceId", Type: "String" }],
            },
            {
                name: "waitForManagedInstance",
                action: "aws:waitForAwsResourceProperty",
                timeoutSeconds: 900,
                onFailure: "step:recordFailure",
                ...toCleanUp,
                inputs: {
                    Service: "ssm",
                    Api: "DescribeInstanceInformation",
                    Filters: [{ Key: "InstanceIds", Values: ["{{launchDrillInstance.InstanceId}}"] }],
                    PropertySelector: "$.InstanceInformationList[0].PingStatus",
                    DesiredValues: ["Online"],
                },
            },
            {
                name: "verifyRestore",
                action: "aws:runCommand",
                timeoutSeconds: (scope.timeoutMinutes - 10) * 60,
                onFailure: "step:recordFailure",
                ...toCleanUp,
                inputs: {
                    DocumentName: scope.verifyDocumentName,
                    InstanceIds: ["{{launchDrillInstance.InstanceId}}"],
                    Comment: "consistent-snapshots restore drill {{Target}}",
                    Parameters: {
                        devices: ["{{chooseSnapshotSet.Devices}}"],
                        expectBinlogFile: ["{{chooseSnapshotSet.ExpectBinlogFile}}"],
                        expectBinlogPosition: ["{{chooseSnapshotSet.ExpectBinlogPosition}}"],
                        serverPackage: ["{{chooseSnapshotSet.ServerPackage}}"],
                    },
                },
            },
            { name: "recordSuccess", action: "aws:executeAwsApi", timeoutSeconds: 120, onFailure: "step:cleanUp", ...toCleanUp, inputs: resultTags("passed") },
            {
                name: "countSuccess",
                action: "aws:executeAwsApi",
                timeoutSeconds: 120,
                onFailure: "step:cleanUp",
                ...toCleanUp,
                nextStep: "cleanUp",
                inputs: count(DRILL_METRICS.succeeded),
            },
            // The failure path: each step may itself fail (no set was chosen, so nothing to tag) and the drill goes on.
            { name: "recordFailure", action: "aws:executeAwsApi", timeoutSeconds: 120, onFailure: "Continue", ...toCleanUp, inputs: resultTags("failed") },
            {
                name: "countFailure",
                action: "aws:executeAwsApi",
                timeoutSeconds: 120,
                onFailure: "Continue",
                ...toCleanUp,
                inputs: count(DRILL_METRICS.failed),
            },
            {
                name: "cleanUp",
                action: "aws:executeScript",
                timeoutSeconds: 300,
                maxAttempts: 3,
                isEnd: true,
                inputs: {
                    Runtime: "python3.11",
                    Handler: "clean_up",
                    Script: script,
                    InputPayload: { ExecutionId: "{{automation:EXECUTION_ID}}", Drill: scope.drillName },
                },
            },
        ],
    };
}

/** The drill instance's user data: its deadline, kept whatever happens to the runbook. */
export function drillUserData(timeoutMinutes: number): string {
    return [
        "#!/bin/bash",
        "# consistent-snapshots restore drill: this instance powers itself off at its deadline; its shutdown behaviour",
        "# is terminate, so it and its restored volumes are gone then, even if the runbook that launched it is not.",
        `shutdown -h +${timeoutMinutes} "consistent-snapshots restore drill deadline"`,
        "",
    ].join("\n");
}

/** What is wrong with the arguments, each naming the argument and the accepted form (empty when nothing is). */
export function restoreDrillArgsErrors(args: Omit<RestoreDrillArgs, "subnetId"> & { subnetId?: unknown }): string[] {
    const errors: string[] = [];
    const bad = (key: string, value: unknown, expected: string) => errors.push(`${key}: ${JSON.stringify(value)} is not valid; expected ${expected}`);
    if (args.targets.length === 0) errors.push("targets: at least one target is required");
    const names = args.targets.map((t) => t.name);
    args.targets.forEach((t, i) => {
        if (!/^[A-Za-z0-9_.-]{1,128}$/.test(t.name)) bad(`targets[${i}].name`, t.name, "1 to 128 of letters, digits, _ . -");
        else if (names.indexOf(t.name) !== i) bad(`targets[${i}].name`, t.name, "a name no other target uses");
        const problem = tagError(t.tagValue, false);
        if (problem) bad(`targets[${i}].tagValue`, t.tagValue, problem);
    });
    const tagKey = args.tagKey ?? RESTORE_DRILL_DEFAULTS.tagKey;
    const tagKeyProblem = tagError(tagKey, true);
    if (tagKeyProblem) bad("tagKey", tagKey, tagKeyProblem);
    if (args.schedule !== undefined) {
        const problem = scheduleError(args.schedule);
        if (problem || /^cron\((\S+\s+){6}\S+\)$/.test(args.schedule)) {
            bad(
                "schedule",
                args.schedule,
                `an EventBridge Scheduler expression: cron(Minutes Hours Day-of-month Month Day-of-week Year), rate(...) or at(...)${problem ? ` (${problem})` : " (no Seconds field)"}`,
            );
        }
    }
    if (args.scheduleTimezone !== undefined && !isIanaTimeZone(args.scheduleTimezone))
        bad("scheduleTimezone", args.scheduleTimezone, "an IANA time zone such as UTC or Europe/Paris");
    if (args.instanceType !== undefined && !/^[a-z][a-z0-9-]*\.[a-z0-9]+$/.test(args.instanceType))
        bad("instanceType", args.instanceType, "an EC2 instance type such as t3.small");
    if (args.imageId !== undefined && !/^(ami-[0-9a-f]{8,17}|resolve:ssm:[A-Za-z0-9_./:-]{1,1011})$/.test(args.imageId)) {
        bad("imageId", args.imageId, "an AMI id (ami-...) or resolve:ssm:<parameter>");
    }
    const timeout = args.timeoutMinutes;
    if (timeout !== undefined && !(typeof timeout === "number" && Number.isInteger(timeout) && timeout >= 20 && timeout <= 720)) {
        bad("timeoutMinutes", timeout, "a whole number of minutes from 20 to 720");
    }
    if (args.serverPackage !== undefined && !/^(auto|none|[A-Za-z0-9][A-Za-z0-9.+_-]{0,99})$/.test(args.serverPackage)) {
        bad("serverPackage", args.serverPackage, "auto, none or a package name");
    }
    if (args.subnetId === undefined || args.subnetId === "") errors.push("subnetId: required (a private subnet with the SSM endpoints)");
    else if (typeof args.subnetId === "string" && !/^subnet-[0-9a-f]{8,17}$/.test(args.subnetId)) bad("subnetId", args.subnetId, "a subnet id, subnet-...");
    return errors;
}

/**
 * What is wrong with the `restoreDrill` a window or a policy takes, each message naming `restoreDrill.<key>`. Its
 * targets are the owner's and judged by the owner's own check.
 */
export function restoreDrillRunArgsErrors(run: Omit<RestoreDrillRunArgs, "subnetId"> & { subnetId?: unknown }): string[] {
    return restoreDrillArgsErrors({ ...run, targets: [] })
        .filter((error) => !error.startsWith("targets:"))
        .map((error) => `restoreDrill.${error}`);
}

/**
 * The RestoreDrill of a window or a policy: its targets, tag key, metric namespace and tags are the owner's, and it
 * sends no alerts of its own (the owner routes its `alertRules` to the owner's topic).
 */
export function ownedRestoreDrill(
    owner: pulumi.Resource,
    ownerName: string,
    run: RestoreDrillRunArgs,
    from: Pick<RestoreDrillArgs, "targets" | "tagKey" | "metricNamespace" | "tags">,
): RestoreDrill {
    return new RestoreDrill(`${ownerName}-drill`, { ...run, ...from, alertsEnabled: false }, { parent: owner });
}

/**
 * Scheduled restore drills for a set of targets: a launch template (IMDSv2 only, no public address, a security group
 * without inbound rules, a role that can only take Run Command, a self-termination deadline), the verify and runbook
 * documents, the runbook's least-privilege Automation role, one EventBridge Scheduler schedule per target, and an
 * alert when a drill does not succeed.
 */
export class RestoreDrill extends pulumi.ComponentResource {
    /** The runbook's name (StartAutomationExecution's DocumentName). */
    public readonly automationDocumentName: pulumi.Output<string>;
    /** The runbook's ARN. */
    public readonly automationDocumentArn: pulumi.Output<string>;
    /** The Command document the runbook runs on the drill instance (restore-verify.sh). */
    public readonly verifyDocumentName: pulumi.Output<string>;
    /** The role the runbook runs as. */
    public readonly automationRoleArn: pulumi.Output<string>;
    /** The drill instances' launch template. */
    public readonly launchTemplateId: pulumi.Output<string>;
    /** The drill instances' security group (no inbound rules). */
    public readonly securityGroupId: pulumi.Output<string>;
    /** The schedules' ARNs, by target name. */
    public readonly scheduleArns: pulumi.Output<Record<string, string>>;
    /** The SNS topic drill failures go to (undefined when this component sends no alerts). */
    public readonly alertTopicArn?: pulumi.Output<string>;
    /** The CloudWatch namespace of RestoreDrillsSucceeded and RestoreDrillsFailed. */
    public readonly metricNamespace: string;
    /** The target names drilled. */
    public readonly targetNames: string[];
    /**
     * The drill's alerts (a drill failed, timed out or was cancelled; a drill could not be started), for a topic: this
     * component's own, or its owner's (a window or policy that passes `alertsEnabled: false` routes them itself).
     */
    public readonly alertRules: AlertRule[];

    constructor(name: string, args: RestoreDrillArgs, opts?: pulumi.ComponentResourceOptions) {
        const errors = restoreDrillArgsErrors(args);
        if (errors.length > 0) throw new Error(`RestoreDrill ${name}: ${errors.join("; ")}`);
        super("consistent-snapshots:index:RestoreDrill", name, args, opts);
        const d = { ...RESTORE_DRILL_DEFAULTS, ...definedOnly(args) };
        const ctx = accountContext(this);
        const parent = { parent: this };
        this.metricNamespace = args.metricNamespace ?? DEFAULT_METRIC_NAMESPACE;
        this.targetNames = args.targets.map((t) => t.name);

        const subnet = aws.ec2.getSubnetOutput({ id: args.subnetId }, parent);
        const securityGroup = new aws.ec2.SecurityGroup(
            `${name}-drill`,
            {
                description: "consistent-snapshots restore drill instances: no inbound; HTTPS out to the AWS endpoints",
                vpcId: subnet.vpcId,
                egress: [{ protocol: "tcp", fromPort: 443, toPort: 443, cidrBlocks: ["0.0.0.0/0"], description: "AWS endpoints (SSM, S3 repositories)" }],
                tags: args.tags,
            },
            parent,
        );

        const instanceRole = new aws.iam.Role(
            `${name}-instance`,
            {
                description: "consistent-snapshots restore drill instance: take Run Command, nothing else",
                assumeRolePolicy: serviceTrustPolicy("ec2.amazonaws.com"),
                tags: args.tags,
            },
            parent,
        );
        new aws.iam.RolePolicy(`${name}-instance`, { role: instanceRole.id, policy: JSON.stringify(restoreDrillInstancePolicy()) }, parent);
        const profile = new aws.iam.InstanceProfile(`${name}-instance`, { role: instanceRole.name, tags: args.tags }, parent);

        const launchTemplate = new aws.ec2.LaunchTemplate(
            `${name}-drill`,
            {
                description: "consistent-snapshots restore drill instance",
                imageId: d.imageId,
                instanceType: d.instanceType,
                iamInstanceProfile: { arn: profile.arn },
                instanceInitiatedShutdownBehavior: "terminate",
                metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1, instanceMetadataTags: "disabled" },
                networkInterfaces: [
                    {
                        deviceIndex: 0,
                        subnetId: args.subnetId,
                        securityGroups: [securityGroup.id],
                        associatePublicIpAddress: "false",
                        deleteOnTermination: "true",
                    },
                ],
                creditSpecification: /^t\d/.test(d.instanceType) ? { cpuCredits: "standard" } : undefined,
                userData: Buffer.from(drillUserData(d.timeoutMinutes)).toString("base64"),
                updateDefaultVersion: true,
                tags: args.tags,
            },
            parent,
        );

        const verifyDocument = new aws.ssm.Document(
            `${name}-verify`,
            {
                documentType: "Command",
                documentFormat: "JSON",
                targetType: "/AWS::EC2::Instance",
                content: JSON.stringify(verifyDocumentContent((d.timeoutMinutes - 10) * 60)),
                tags: args.tags,
            },
            parent,
        );

        const automationRole = new aws.iam.Role(
            `${name}-automation`,
            {
                description: "consistent-snapshots restore drill runbook: launch, verify, tag, terminate its own instances",
                assumeRolePolicy: ctx.apply((c) => serviceTrustPolicy("ssm.amazonaws.com", c.accountId)),
                tags: args.tags,
            },
            parent,
        );
        const automationPolicy = new aws.iam.RolePolicy(
            `${name}-automation`,
            {
                role: automationRole.id,
                policy: pulumi
                    .all([ctx, launchTemplate.arn, subnet.arn, securityGroup.arn, instanceRole.arn, verifyDocument.arn])
                    .apply(([c, launchTemplateArn, subnetArn, securityGroupArn, instanceRoleArn, verifyDocumentArn]) =>
                        JSON.stringify(
                            restoreDrillAutomationPolicy(c, {
                                drillName: name,
                                launchTemplateArn,
                                subnetArn,
                                securityGroupArn,
                                instanceRoleArn,
                                verifyDocumentArn,
                                metricNamespace: this.metricNamespace,
                            }),
                        ),
                    ),
            },
            parent,
        );

        const runbook = new aws.ssm.Document(
            `${name}-runbook`,
            {
                documentType: "Automation",
                documentFormat: "JSON",
                content: pulumi
                    .all([automationRole.arn, launchTemplate.id, verifyDocument.name])
                    .apply(([automationRoleArn, launchTemplateId, verifyDocumentName]) =>
                        JSON.stringify(
                            restoreDrillRunbookContent({
                                drillName: name,
                                automationRoleArn,
                                launchTemplateId,
                                verifyDocumentName,
                                metricNamespace: this.metricNamespace,
                                timeoutMinutes: d.timeoutMinutes,
                                serverPackage: d.serverPackage,
                                tagKey: d.tagKey,
                            }),
                        ),
                    ),
                tags: args.tags,
            },
            { parent: this, dependsOn: [automationPolicy] },
        );

        const schedulerRole = new aws.iam.Role(
            `${name}-scheduler`,
            {
                description: "consistent-snapshots restore drill schedules: start the drill runbook",
                assumeRolePolicy: ctx.apply((c) => serviceTrustPolicy("scheduler.amazonaws.com", c.accountId)),
                tags: args.tags,
            },
            parent,
        );
        new aws.iam.RolePolicy(
            `${name}-scheduler`,
            {
                role: schedulerRole.id,
                policy: pulumi
                    .all([ctx, runbook.name, automationRole.arn])
                    .apply(([c, automationDocumentName, automationRoleArn]) =>
                        JSON.stringify(restoreDrillSchedulerPolicy(c, { automationDocumentName, automationRoleArn })),
                    ),
            },
            parent,
        );
        // The drill's own schedule group: EventBridge Scheduler's AWS/Scheduler metrics are per group, so a drill that
        // could not be started (its role refused, the runbook gone) is seen and alerted on, not silently missed.
        const scheduleGroup = new aws.scheduler.ScheduleGroup(`${name}-drills`, { tags: args.tags }, parent);
        const notStarted = new aws.cloudwatch.MetricAlarm(
            `${name}-not-started`,
            {
                alarmDescription: `consistent-snapshots: a restore drill of ${name} could not be started (EventBridge Scheduler's target errors or dropped invocations).`,
                comparisonOperator: "GreaterThanOrEqualToThreshold",
                threshold: 1,
                evaluationPeriods: 1,
                treatMissingData: "notBreaching",
                metricQueries: [
                    ...SCHEDULER_FAILURE_METRICS.map((metricName, i) => ({
                        id: `m${i}`,
                        returnData: false,
                        metric: { namespace: "AWS/Scheduler", metricName, dimensions: { ScheduleGroup: scheduleGroup.name }, period: 3600, stat: "Sum" },
                    })),
                    {
                        id: "failed",
                        expression: SCHEDULER_FAILURE_METRICS.map((_, i) => `FILL(m${i}, 0)`).join(" + "),
                        label: "drills not started",
                        returnData: true,
                    },
                ],
                tags: args.tags,
            },
            parent,
        );
        const scheduleArns: Record<string, pulumi.Output<string>> = {};
        for (const target of args.targets) {
            const schedule = new aws.scheduler.Schedule(
                `${name}-${target.name}`,
                {
                    description: `consistent-snapshots restore drill of target ${target.name}`.slice(0, 512),
                    groupName: scheduleGroup.name,
                    scheduleExpression: d.schedule,
                    scheduleExpressionTimezone: d.scheduleTimezone,
                    state: d.enabled ? "ENABLED" : "DISABLED",
                    flexibleTimeWindow: { mode: "OFF" },
                    target: {
                        arn: ctx.apply((c) => `arn:${c.partition}:scheduler:::aws-sdk:ssm:startAutomationExecution`),
                        roleArn: schedulerRole.arn,
                        input: runbook.name.apply((documentName) =>
                            JSON.stringify({
                                DocumentName: documentName,
                                Parameters: { Target: [target.name], TagKey: [d.tagKey], TagValue: [target.tagValue] },
                            }),
                        ),
                        // A drill that could not start is not retried into a second instance: the next week's runs.
                        retryPolicy: { maximumRetryAttempts: 0 },
                    },
                },
                parent,
            );
            scheduleArns[target.name] = schedule.arn;
        }

        this.alertRules = [
            drillAlertRule(runbook.name),
            {
                suffix: "drill-not-started",
                description: "consistent-snapshots: a restore drill could not be started (EventBridge Scheduler target errors)",
                eventPattern: notStarted.arn.apply((arn) => alarmPattern([arn])),
                message: DRILL_NOT_STARTED_MESSAGE,
            },
        ];
        if (args.alertsEnabled ?? RESTORE_DRILL_DEFAULTS.alertsEnabled) {
            this.alertTopicArn = failureAlerts(this, name, this.alertRules, {
                topicArn: args.alertTopicArn,
                email: args.alertEmail,
                ctx,
                tags: args.tags,
            });
        }

        this.automationDocumentName = runbook.name;
        this.automationDocumentArn = runbook.arn;
        this.verifyDocumentName = verifyDocument.name;
        this.automationRoleArn = automationRole.arn;
        this.launchTemplateId = launchTemplate.id;
        this.securityGroupId = securityGroup.id;
        this.scheduleArns = pulumi.output(scheduleArns);
        this.registerOutputs({
            automationDocumentName: this.automationDocumentName,
            automationDocumentArn: this.automationDocumentArn,
            verifyDocumentName: this.verifyDocumentName,
            automationRoleArn: this.automationRoleArn,
            launchTemplateId: this.launchTemplateId,
            securityGroupId: this.securityGroupId,
            scheduleArns: this.scheduleArns,
            alertTopicArn: this.alertTopicArn,
            metricNamespace: this.metricNamespace,
        });
    }
}

/** The arguments without those left undefined (so that spreading them over the defaults keeps the defaults). */
function definedOnly<T extends object>(args: T): Partial<T> {
    return Object.fromEntries(Object.entries(args).filter(([, v]) => v !== undefined)) as Partial<T>;
}
