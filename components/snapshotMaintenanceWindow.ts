import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { COMMAND_FAILED_MESSAGE, WINDOW_FAILED_MESSAGE, commandFailedPattern, failureAlerts, windowFailedPattern } from "./alerts";
import { AccountContext, accountContext, maintenanceWindowRolePolicy, serviceTrustPolicy, snapshotInstancePolicy } from "./policies";
import { DEFAULT_SCHEDULE, DEFAULT_TAG_KEY, LOG_RETENTION_DAYS, cutText, MAX_CONCURRENCY_PATTERN, MAX_ERRORS_PATTERN, isIanaTimeZone, tagError } from "./rules";
import {
    DEFAULT_METRIC_NAMESPACE,
    STALE_MESSAGE,
    alarmPattern,
    freshnessAlarm,
    defaultDashboardName,
    runMetricFilters,
    windowDashboardBody,
} from "./monitoring";
import { freshnessError, freshnessHoursFor, scheduleError } from "./schedule";
import { DocumentReference } from "./snapshotDocument";
import { RestoreDrill, RestoreDrillRunArgs, ownedRestoreDrill, restoreDrillRunArgsErrors } from "./restoreDrill";

/** One group of instances (by tag) and the document it runs. */
export interface SnapshotTargetArgs {
    /** Name of the target and its task (unique within the window). Required. AWS constraint: 3-128 of [A-Za-z0-9_.-]. */
    name: string;
    /** Instances with the tag `<tagKey>=<tagValue>` are targeted. Required. AWS constraint: EC2 tag value rules. */
    tagValue: string;
    /** The SSM document to run: its name and ARN (e.g. a SnapshotDocument's outputs). Required. */
    document: DocumentReference;
    /** How many instances run at once: a count (≥ 1) or a percentage. Default: `1`. */
    maxConcurrency?: string;
    /** Errors after which no further instance is started: a count or a percentage. Default: `1`. */
    maxErrors?: string;
    /** Task priority in the window; lower runs first. Default: 1. AWS constraint: 0 or more. */
    priority?: number;
    /** Document parameters for this target (names as declared by the document). Default: the document's defaults. */
    parameters?: Record<string, string>;
}

export interface SnapshotMaintenanceWindowArgs {
    /** When the window opens: cron(...), rate(...) or at(...), maintenance-window rules. Default: `cron(0 0 * * ? *)` (midnight daily). */
    schedule?: pulumi.Input<string>;
    /** IANA time zone of the schedule. Default: `UTC`. */
    scheduleTimezone?: pulumi.Input<string>;
    /** How long the window stays open, in hours. Default: 2. AWS constraint: 1-24. */
    duration?: pulumi.Input<number>;
    /** Hours before the window closes after which no new task starts. Default: 0. AWS constraint: 0-23 and below duration. */
    cutoff?: pulumi.Input<number>;
    /** Whether the window runs. Default: true. */
    enabled?: pulumi.Input<boolean>;
    /** Tag key that selects instances (`tag:<tagKey>`). Default: `ConsistentSnapshot`. */
    tagKey?: string;
    /** The targets, each with its own task. Required, at least one. */
    targets: SnapshotTargetArgs[];
    /** Retention of the command-output log group, in days. Default: 30. AWS constraint: one of CloudWatch Logs' periods. */
    logRetentionDays?: number;
    /**
     * Encrypt the command-output log group with this existing KMS key (a symmetric key in the stack's Region). Its
     * key policy must let `logs.<region>.amazonaws.com` use it for this log group (AWS's "Encrypt log data in
     * CloudWatch Logs using AWS KMS"). Default: none (CloudWatch Logs' own encryption). Exclusive with
     * `createLogGroupKmsKey`.
     */
    logGroupKmsKeyArn?: pulumi.Input<string>;
    /**
     * Create a KMS key (rotated yearly) for the command-output log group, usable by CloudWatch Logs only for this
     * component's log groups (`logGroupKeyPolicy`). Default: false. Exclusive with `logGroupKmsKeyArn`.
     */
    createLogGroupKmsKey?: boolean;
    /** Seconds SSM waits for a command to start on an instance (SendCommand TimeoutSeconds). Default: 600. AWS constraint: 30-2592000. */
    commandTimeoutSeconds?: number;
    /**
     * Route every failed, timed-out or cancelled run to SNS (EventBridge rules on SSM's command and
     * maintenance-window events). Default: true.
     */
    alertsEnabled?: boolean;
    /**
     * Publish alerts to this existing SNS topic instead of creating one. Default: a new topic. Its policy must
     * let `events.amazonaws.com` publish (this component does not change a topic it did not create).
     */
    alertTopicArn?: pulumi.Input<string>;
    /** Subscribe this e-mail address to the alerts (AWS sends a confirmation mail first). Default: none. */
    alertEmail?: string;
    /**
     * Hours without a successful run of a target after which its freshness alarm fires (and, with alerts, says so
     * on the alert topic): catches what fails silently (instances stopped or untagged, the agent offline, the window
     * disabled). 0: no freshness alarm. Default: twice the longest gap between runs of `schedule`, at least 26 (daily:
     * 48); required when that gap is not plain to compute (a cron on some days only). AWS constraint: 1-168 (an
     * alarm looks back at most 7 days); must exceed the gap between runs. Only targets whose document declares the
     * `target` parameter (a SnapshotDocument) get an alarm: the window passes each run its target's name there.
     */
    freshnessHours?: number;
    /** CloudWatch namespace of the run metrics (from each run's summary line in the log group). Default: `ConsistentSnapshots`. */
    metricNamespace?: string;
    /**
     * Scheduled restore drills of every target that snapshots a database (not `database: none`; a RestoreDrill child:
     * weekly by default, on a short-lived instance in `restoreDrill.subnetId`), counted on the window's dashboard,
     * failures sent to the window's alert topic. Default: none.
     */
    restoreDrill?: RestoreDrillRunArgs;
    /** Tags for every resource. Default: none. */
    tags?: Record<string, string>;
}

/**
 * Key policy of the KMS key `createLogGroupKmsKey` creates (Security Hub FSBP asks for KMS-encrypted log groups):
 * the account administers it through IAM (AWS's default key policy, without which the key could lock its owners
 * out), and CloudWatch Logs in this Region may use it only for log groups of this account whose names start with
 * `logGroupNamePrefix`: the encryption context CloudWatch Logs sends (AWS's "Encrypt log data in CloudWatch Logs
 * using AWS KMS"). Who writes (the SSM Agent) or reads the log group needs no KMS permission: CloudWatch Logs
 * encrypts and decrypts.
 */
export function logGroupKeyPolicy(ctx: AccountContext, logGroupNamePrefix: string): string {
    return JSON.stringify({
        Version: "2012-10-17",
        Statement: [
            {
                Sid: "AccountAdministersKeyThroughIam",
                Effect: "Allow",
                Principal: { AWS: `arn:${ctx.partition}:iam::${ctx.accountId}:root` },
                Action: "kms:*",
                Resource: "*",
            },
            {
                Sid: "CloudWatchLogsEncryptsTheseLogGroups",
                Effect: "Allow",
                Principal: { Service: `logs.${ctx.region}.amazonaws.com` },
                Action: ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                Resource: "*",
                Condition: {
                    ArnLike: {
                        "kms:EncryptionContext:aws:logs:arn": `arn:${ctx.partition}:logs:${ctx.region}:${ctx.accountId}:log-group:${logGroupNamePrefix}*`,
                    },
                },
            },
        ],
    });
}

/** AWS's rule for a maintenance-window target's and task's name (SSM `MaintenanceWindowName`). */
const WINDOW_RESOURCE_NAME = /^[A-Za-z0-9_.-]{3,128}$/;

/** The window's defaults (what the Args' TSDoc says), applied with `??` where each argument is read. */
export const MAINTENANCE_WINDOW_DEFAULTS = Object.freeze({
    schedule: DEFAULT_SCHEDULE,
    scheduleTimezone: "UTC",
    duration: 2,
    cutoff: 0,
    enabled: true,
    tagKey: DEFAULT_TAG_KEY,
    logRetentionDays: 30,
    commandTimeoutSeconds: 600,
    alertsEnabled: true,
});
/** Each target's defaults. */
export const WINDOW_TARGET_DEFAULTS = Object.freeze({ maxConcurrency: "1", maxErrors: "1", priority: 1 });

/** The arguments `maintenanceWindowArgsErrors` checks: all of them, the targets' documents aside. */
export type MaintenanceWindowArgsToCheck = Omit<SnapshotMaintenanceWindowArgs, "targets"> & { targets: Omit<SnapshotTargetArgs, "document">[] };

/**
 * What is wrong with the arguments, each naming the argument, the value and the accepted form (empty when nothing
 * is). Values given as outputs are AWS's to check; a value of the wrong type (from JavaScript, or stack
 * configuration text) is reported as given.
 */
export function maintenanceWindowArgsErrors(args: MaintenanceWindowArgsToCheck): string[] {
    const errors: string[] = [];
    const bad = (key: string, value: unknown, expected: string) => errors.push(`${key}: ${JSON.stringify(value)} is not valid; expected ${expected}`);
    const known = (value: unknown) => value !== undefined && (typeof value !== "object" || value === null);
    const wholeIn = (value: unknown, min: number, max: number) => typeof value === "number" && Number.isInteger(value) && value >= min && value <= max;
    if (typeof args.schedule === "string") {
        const problem = scheduleError(args.schedule);
        if (problem) bad("schedule", args.schedule, `a maintenance-window schedule (${problem})`);
    }
    if (typeof args.scheduleTimezone === "string" && !isIanaTimeZone(args.scheduleTimezone)) {
        bad("scheduleTimezone", args.scheduleTimezone, "an IANA time zone such as UTC, Europe/Paris or America/New_York");
    }
    const duration = args.duration ?? MAINTENANCE_WINDOW_DEFAULTS.duration;
    const cutoff = args.cutoff ?? MAINTENANCE_WINDOW_DEFAULTS.cutoff;
    if (known(duration) && !wholeIn(duration, 1, 24)) bad("duration", duration, "a whole number of hours from 1 to 24");
    if (known(cutoff) && !wholeIn(cutoff, 0, 23)) bad("cutoff", cutoff, "a whole number of hours from 0 to 23");
    else if (typeof cutoff === "number" && typeof duration === "number" && cutoff >= duration)
        bad("cutoff", cutoff, `a number of hours smaller than duration (${duration})`);
    const tagKey = args.tagKey ?? MAINTENANCE_WINDOW_DEFAULTS.tagKey;
    const tagKeyProblem = tagError(tagKey, true);
    if (tagKeyProblem) bad("tagKey", tagKey, tagKeyProblem);
    if (args.targets.length === 0) errors.push("targets: at least one target is required");
    const names = args.targets.map((t) => t.name);
    args.targets.forEach((target, i) => {
        const key = `targets[${i}]`;
        if (!WINDOW_RESOURCE_NAME.test(target.name)) bad(`${key}.name`, target.name, "3 to 128 of letters, digits, _ . - (the target's and its task's name)");
        else if (names.indexOf(target.name) !== i) bad(`${key}.name`, target.name, "a name no other target uses");
        const tagValueProblem = tagError(target.tagValue, false);
        if (tagValueProblem) bad(`${key}.tagValue`, target.tagValue, tagValueProblem);
        if (target.maxConcurrency !== undefined && !MAX_CONCURRENCY_PATTERN.test(target.maxConcurrency)) {
            bad(`${key}.maxConcurrency`, target.maxConcurrency, "a count from 1 to 9999999 (e.g. 1) or a percentage from 1% to 100% (e.g. 10%)");
        }
        if (target.maxErrors !== undefined && !MAX_ERRORS_PATTERN.test(target.maxErrors)) {
            bad(`${key}.maxErrors`, target.maxErrors, "a count from 0 to 9999999 (e.g. 1) or a percentage from 0% to 100% (e.g. 10%)");
        }
        if (target.priority !== undefined && !wholeIn(target.priority, 0, 2147483647)) bad(`${key}.priority`, target.priority, "a whole number, 0 or more");
    });
    if (known(args.logRetentionDays) && !LOG_RETENTION_DAYS.includes(args.logRetentionDays!)) {
        bad("logRetentionDays", args.logRetentionDays, `one of CloudWatch Logs' periods: ${LOG_RETENTION_DAYS.join(", ")}`);
    }
    if (known(args.commandTimeoutSeconds) && !wholeIn(args.commandTimeoutSeconds, 30, 2592000)) {
        bad("commandTimeoutSeconds", args.commandTimeoutSeconds, "seconds from 30 to 2592000 (SendCommand's TimeoutSeconds)");
    }
    if (args.createLogGroupKmsKey && args.logGroupKmsKeyArn !== undefined) errors.push("logGroupKmsKeyArn and createLogGroupKmsKey: set one, not both");
    const schedule = args.schedule ?? MAINTENANCE_WINDOW_DEFAULTS.schedule;
    if (typeof schedule !== "string" && args.freshnessHours === undefined) {
        errors.push("freshnessHours: expected a value when schedule is an output (the default is derived from the schedule)");
    } else if (known(args.freshnessHours)) {
        const problem = freshnessError(args.freshnessHours!, typeof schedule === "string" ? schedule : undefined);
        if (problem) bad("freshnessHours", args.freshnessHours, problem);
    } else if (typeof schedule === "string" && !scheduleError(schedule)) {
        const hours = freshnessHoursFor(undefined, schedule);
        if (typeof hours === "string") errors.push(`freshnessHours: expected ${hours}`);
    }
    if (args.restoreDrill) {
        // The targets were judged above by the window's own rules (which the drill's admit).
        errors.push(...restoreDrillRunArgsErrors(args.restoreDrill));
    }
    return errors;
}

function validWindowArgs(name: string, args: SnapshotMaintenanceWindowArgs): SnapshotMaintenanceWindowArgs {
    const errors = maintenanceWindowArgsErrors(args);
    if (errors.length > 0) throw new Error(`SnapshotMaintenanceWindow ${name}: ${errors.join("; ")}`);
    return args;
}

/**
 * The schedule: a maintenance window, its least-privilege service role, a CloudWatch log group for command
 * output, and per target a tag-based window target wired to a RUN_COMMAND task. Instances are connected by
 * tag only, so it works for instances this stack did not create: attach `instancePolicyArn` to their roles.
 */
export class SnapshotMaintenanceWindow extends pulumi.ComponentResource {
    /** The maintenance window's id. */
    public readonly maintenanceWindowId: pulumi.Output<string>;
    /** The window's service role ARN. */
    public readonly maintenanceWindowRoleArn: pulumi.Output<string>;
    /** Window target ids, by target name. */
    public readonly targetIds: pulumi.Output<Record<string, string>>;
    /** Window task ids, by target name. */
    public readonly taskIds: pulumi.Output<Record<string, string>>;
    /** The log group receiving command output. */
    public readonly logGroupName: pulumi.Output<string>;
    /** The log group's ARN. */
    public readonly logGroupArn: pulumi.Output<string>;
    /** The KMS key encrypting the log group (undefined: CloudWatch Logs' own encryption). */
    public readonly logGroupKmsKeyArn?: pulumi.Output<string>;
    /** A managed policy granting what the snapshot script needs, for roles of instances you bring. */
    public readonly instancePolicyArn: pulumi.Output<string>;
    /** The SNS topic failures are published to (undefined when alerts are off). */
    public readonly alertTopicArn?: pulumi.Output<string>;
    /** The freshness alarms' ARNs, by target name (targets whose document declares `target`; none when freshnessHours is 0). */
    public readonly freshnessAlarmArns: pulumi.Output<Record<string, string>>;
    /** The hours without a successful run after which a freshness alarm fires (0: none). */
    public readonly freshnessHours: number;
    /** The CloudWatch dashboard of the runs: counts and durations per target, the freshness alarms. */
    public readonly dashboardName: pulumi.Output<string>;
    /** The CloudWatch namespace of the run metrics (RunsSucceeded, RunsFailed, LockHeldMs, WriteBlockWindowMs, FrozenMs, ApiMs; dimension Target). */
    public readonly metricNamespace: string;
    /** The restore drill of the targets (undefined without `restoreDrill`). */
    public readonly restoreDrill?: RestoreDrill;

    constructor(name: string, args: SnapshotMaintenanceWindowArgs, opts?: pulumi.ComponentResourceOptions) {
        // Checked before anything is registered, the component included.
        super("consistent-snapshots:index:SnapshotMaintenanceWindow", name, validWindowArgs(name, args), opts);
        const tagKey = args.tagKey ?? MAINTENANCE_WINDOW_DEFAULTS.tagKey;
        const tagValues = [...new Set(args.targets.map((t) => t.tagValue))];
        const ctx = accountContext(this);

        const window = new aws.ssm.MaintenanceWindow(
            name,
            {
                description: "consistent-snapshots: application-consistent EBS snapshots",
                schedule: args.schedule ?? MAINTENANCE_WINDOW_DEFAULTS.schedule,
                scheduleTimezone: args.scheduleTimezone ?? MAINTENANCE_WINDOW_DEFAULTS.scheduleTimezone,
                duration: args.duration ?? MAINTENANCE_WINDOW_DEFAULTS.duration,
                cutoff: args.cutoff ?? MAINTENANCE_WINDOW_DEFAULTS.cutoff,
                enabled: args.enabled ?? MAINTENANCE_WINDOW_DEFAULTS.enabled,
                allowUnassociatedTargets: false,
                tags: args.tags,
            },
            { parent: this },
        );

        // Pulumi names the log group "<name>-output-<random suffix>": the key admits that prefix.
        const logGroupKey = args.createLogGroupKmsKey
            ? new aws.kms.Key(
                  `${name}-output`,
                  {
                      description: "consistent-snapshots: encrypts the snapshot runs' command output (CloudWatch Logs)",
                      enableKeyRotation: true,
                      policy: ctx.apply((c) => logGroupKeyPolicy(c, `${name}-output-`)),
                      tags: args.tags,
                  },
                  { parent: this },
              )
            : undefined;
        this.logGroupKmsKeyArn = logGroupKey ? logGroupKey.arn : args.logGroupKmsKeyArn === undefined ? undefined : pulumi.output(args.logGroupKmsKeyArn);
        const logGroup = new aws.cloudwatch.LogGroup(
            `${name}-output`,
            {
                retentionInDays: args.logRetentionDays ?? MAINTENANCE_WINDOW_DEFAULTS.logRetentionDays,
                kmsKeyId: this.logGroupKmsKeyArn,
                tags: args.tags,
            },
            { parent: this },
        );

        const role = new aws.iam.Role(
            `${name}-role`,
            {
                description: "consistent-snapshots maintenance window: send the snapshot documents to tagged instances",
                assumeRolePolicy: ctx.apply((c) => serviceTrustPolicy("ssm.amazonaws.com", c.accountId)),
                tags: args.tags,
            },
            { parent: this },
        );
        new aws.iam.RolePolicy(
            `${name}-role-policy`,
            {
                role: role.id,
                policy: pulumi
                    .all([ctx, pulumi.all(args.targets.map((t) => t.document.documentArn))])
                    .apply(([c, arns]) => JSON.stringify(maintenanceWindowRolePolicy(c, { documentArns: [...new Set(arns)], tagKey, tagValues }))),
            },
            { parent: this },
        );

        const instancePolicy = new aws.iam.Policy(
            `${name}-instance`,
            {
                description: `consistent-snapshots: what the snapshot script calls, for instances tagged ${tagKey}`,
                policy: pulumi
                    .all([ctx, logGroup.arn])
                    .apply(([c, logGroupArn]: [AccountContext, string]) => JSON.stringify(snapshotInstancePolicy(c, { tagKey, tagValues, logGroupArn }))),
                tags: args.tags,
            },
            { parent: this },
        );

        const targetIds: Record<string, pulumi.Output<string>> = {};
        const taskIds: Record<string, pulumi.Output<string>> = {};
        for (const target of args.targets) {
            const windowTarget = new aws.ssm.MaintenanceWindowTarget(
                `${name}-${target.name}`,
                {
                    windowId: window.id,
                    name: target.name,
                    description: fitMaintenanceWindowText(`Instances tagged ${tagKey}=${target.tagValue}`),
                    // OwnerInformation is 1-128 characters: omitted for an empty tag value.
                    ownerInformation: target.tagValue === "" ? undefined : fitMaintenanceWindowText(target.tagValue),
                    resourceType: "INSTANCE",
                    targets: [{ key: `tag:${tagKey}`, values: [target.tagValue] }],
                },
                { parent: this },
            );
            const task = new aws.ssm.MaintenanceWindowTask(
                `${name}-${target.name}`,
                {
                    windowId: window.id,
                    name: target.name,
                    description: fitMaintenanceWindowText(`Consistent snapshot of instances tagged ${tagKey}=${target.tagValue}`),
                    taskType: "RUN_COMMAND",
                    taskArn: target.document.documentName,
                    serviceRoleArn: role.arn,
                    priority: target.priority ?? WINDOW_TARGET_DEFAULTS.priority,
                    maxConcurrency: target.maxConcurrency ?? WINDOW_TARGET_DEFAULTS.maxConcurrency,
                    maxErrors: target.maxErrors ?? WINDOW_TARGET_DEFAULTS.maxErrors,
                    cutoffBehavior: "CONTINUE_TASK",
                    targets: [{ key: "WindowTargetIds", values: [windowTarget.id] }],
                    taskInvocationParameters: {
                        runCommandParameters: {
                            comment: `consistent-snapshots ${target.name}`,
                            documentVersion: "$DEFAULT",
                            timeoutSeconds: args.commandTimeoutSeconds ?? MAINTENANCE_WINDOW_DEFAULTS.commandTimeoutSeconds,
                            parameters: Object.entries(taskParameters(target)).map(([k, v]) => ({ name: k, values: [v] })),
                            cloudwatchConfig: { cloudwatchLogGroupName: logGroup.name, cloudwatchOutputEnabled: true },
                        },
                    },
                },
                { parent: this },
            );
            targetIds[target.name] = windowTarget.id;
            taskIds[target.name] = task.id;
        }

        this.metricNamespace = args.metricNamespace ?? DEFAULT_METRIC_NAMESPACE;
        runMetricFilters(this, `${name}-metric`, logGroup.name, this.metricNamespace);
        const freshness = freshnessHoursFor(args.freshnessHours, typeof args.schedule === "string" ? args.schedule : MAINTENANCE_WINDOW_DEFAULTS.schedule);
        this.freshnessHours = typeof freshness === "number" ? freshness : 0;
        const alarms: Record<string, pulumi.Output<string>> = {};
        if (this.freshnessHours > 0) {
            for (const target of args.targets.filter(declaresTarget)) {
                alarms[target.name] = freshnessAlarm(this, `${name}-fresh-${target.name}`, {
                    metrics: [{ namespace: this.metricNamespace, metricName: "RunsSucceeded", dimensions: { Target: target.name } }],
                    hours: this.freshnessHours,
                    tags: args.tags,
                    description:
                        `consistent-snapshots: no successful consistent snapshot of target ${target.name} (instances tagged ` +
                        `${tagKey}=${target.tagValue}) in ${this.freshnessHours} h. \`npx consistent-snapshots runs\` shows the last runs.`,
                }).arn;
            }
        }
        this.freshnessAlarmArns = pulumi.output(alarms);
        // A drill proves a database restores: targets snapshotted without one (database none) are not drilled.
        if (args.restoreDrill && args.targets.some(holdsDatabase)) {
            this.restoreDrill = ownedRestoreDrill(this, name, args.restoreDrill, {
                targets: args.targets.filter(holdsDatabase).map((t) => ({ name: t.name, tagValue: t.tagValue })),
                tagKey,
                metricNamespace: this.metricNamespace,
                tags: args.tags,
            });
        }
        const drillTargets = this.restoreDrill?.targetNames ?? [];
        const dashboard = new aws.cloudwatch.Dashboard(
            `${name}-runs`,
            {
                dashboardName: ctx.apply((c) => defaultDashboardName(name, c.region)),
                dashboardBody: pulumi.all([ctx, pulumi.all(Object.values(alarms)), logGroup.name]).apply(([c, arns, logGroupName]) =>
                    windowDashboardBody(
                        c.region,
                        this.metricNamespace,
                        args.targets.filter(declaresTarget).map((t) => t.name),
                        arns,
                        drillTargets,
                        logGroupName,
                    ),
                ),
            },
            { parent: this },
        );
        this.dashboardName = dashboard.dashboardName;

        if (args.alertsEnabled ?? MAINTENANCE_WINDOW_DEFAULTS.alertsEnabled) {
            this.alertTopicArn = this.createAlerts(name, args, window.id, ctx, Object.values(alarms));
        }

        this.maintenanceWindowId = window.id;
        this.maintenanceWindowRoleArn = role.arn;
        this.targetIds = pulumi.output(targetIds);
        this.taskIds = pulumi.output(taskIds);
        this.logGroupName = logGroup.name;
        this.logGroupArn = logGroup.arn;
        this.instancePolicyArn = instancePolicy.arn;
        this.registerOutputs({
            maintenanceWindowId: this.maintenanceWindowId,
            maintenanceWindowRoleArn: this.maintenanceWindowRoleArn,
            targetIds: this.targetIds,
            taskIds: this.taskIds,
            logGroupName: this.logGroupName,
            logGroupArn: this.logGroupArn,
            logGroupKmsKeyArn: this.logGroupKmsKeyArn,
            instancePolicyArn: this.instancePolicyArn,
            alertTopicArn: this.alertTopicArn,
            freshnessAlarmArns: this.freshnessAlarmArns,
            freshnessHours: this.freshnessHours,
            metricNamespace: this.metricNamespace,
            dashboardName: this.dashboardName,
            restoreDrillDocumentName: this.restoreDrill?.automationDocumentName,
        });
    }

    private createAlerts(
        name: string,
        args: SnapshotMaintenanceWindowArgs,
        windowId: pulumi.Output<string>,
        ctx: pulumi.Output<AccountContext>,
        freshnessAlarmArns: pulumi.Output<string>[],
    ): pulumi.Output<string> {
        const documentNames = pulumi.all(args.targets.map((t) => t.document.documentName)).apply((n) => [...new Set(n)]);
        return failureAlerts(
            this,
            name,
            [
                {
                    suffix: "command-failed",
                    description: "consistent-snapshots: a snapshot run failed, timed out or was cancelled on an instance",
                    eventPattern: documentNames.apply(commandFailedPattern),
                    message: COMMAND_FAILED_MESSAGE,
                },
                {
                    suffix: "window-failed",
                    description: "consistent-snapshots: the maintenance window or its task failed, timed out or was skipped",
                    eventPattern: windowId.apply(windowFailedPattern),
                    message: WINDOW_FAILED_MESSAGE,
                },
                ...(this.restoreDrill?.alertRules ?? []),
                ...(freshnessAlarmArns.length > 0
                    ? [
                          {
                              suffix: "stale",
                              description: "consistent-snapshots: no successful consistent snapshot of a target within its freshness window",
                              eventPattern: pulumi.all(freshnessAlarmArns).apply(alarmPattern),
                              message: STALE_MESSAGE,
                          },
                      ]
                    : []),
            ],
            { topicArn: args.alertTopicArn, email: args.alertEmail, ctx, tags: args.tags },
        );
    }
}

/** Whether the target's runs hold a database (its `database` parameter, else its document's default, is not `none`). */
function holdsDatabase(target: SnapshotTargetArgs): boolean {
    return (target.parameters?.database ?? target.document.parameterDefaults?.database ?? "mysql") !== "none";
}

/** Whether the target's document takes the `target` parameter (a SnapshotDocument does): then its runs are counted per target. */
function declaresTarget(target: SnapshotTargetArgs): boolean {
    return Object.prototype.hasOwnProperty.call(target.document.parameterDefaults ?? {}, "target");
}

/** A task's parameters: the target's, and its name as `target` where the document declares it (unless given). */
export function taskParameters(target: SnapshotTargetArgs): Record<string, string> {
    return declaresTarget(target) ? { target: target.name, ...target.parameters } : { ...target.parameters };
}

/**
 * A maintenance-window target's or task's `Description` and a target's `OwnerInformation` are 1-128 characters
 * (SSM API model); tag keys (128) and values (256) can be longer: cut to fit, marked with "...".
 */
export function fitMaintenanceWindowText(text: string, max = 128): string {
    return cutText(text, max);
}
