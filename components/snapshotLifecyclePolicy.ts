import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import {
    COMMAND_FAILED_MESSAGE,
    LIFECYCLE_POLICY_ERROR_MESSAGE,
    SNAPSHOTS_FAILED_MESSAGE,
    SNAPSHOTS_FAILED_PATTERN,
    commandFailedPattern,
    failureAlerts,
    lifecyclePolicyErrorPattern,
} from "./alerts";
import { AccountContext, PolicyDocument, accountContext, lifecyclePolicyInstancePolicy, serviceTrustPolicy } from "./policies";
import { DEFAULT_METRIC_NAMESPACE, STALE_MESSAGE, alarmPattern, freshnessAlarm, defaultDashboardName, lifecyclePolicyDashboardBody } from "./monitoring";
import { RestoreDrill, RestoreDrillRunArgs, ownedRestoreDrill, restoreDrillRunArgsErrors } from "./restoreDrill";
import { DEFAULT_SCHEDULE, DEFAULT_TAG_KEY } from "./rules";
import { freshnessError, freshnessHoursFor } from "./schedule";
import { CONSISTENT_SNAPSHOT_PARAMETERS, DocumentReference } from "./snapshotDocument";
import { INSTANCE_ID_TAG_KEY, LIFECYCLE_POLICY_TAG } from "./snapshotTags";

/** A cross-Region copy of every snapshot the policy creates. */
export interface SnapshotCopyRegion {
    /** Destination Region, e.g. `eu-central-1`. AWS constraint: up to 3 Regions per schedule. */
    region: string;
    /** Days the copies are kept. Default: the policy's own retention in days, else 30. */
    retainDays?: number;
    /** KMS key ARN (in the destination Region) to encrypt the copies with. Default: the Region's default EBS key. */
    cmkArn?: string;
}

/** Snapshots DLM keeps per volume when neither `retainCount` nor `retainDays` is given. */
export const DEFAULT_RETAIN_COUNT = 7;

export interface SnapshotLifecyclePolicyArgs {
    /**
     * The SSM document DLM runs as pre and post script (a SnapshotDocument). Required. It must carry the tag
     * `DLMScriptsAccess=true` (DLM's SSM permissions are scoped to documents with that tag). When it carries its
     * `parameterDefaults` (a SnapshotDocument does), the pre-script's time budget is checked against
     * `scriptExecutionTimeoutSeconds` (see `preScriptBudgetErrors`); its `preScriptSeconds` default must not
     * exceed it.
     */
    document: DocumentReference;
    /** Tag key of the instances to snapshot. Default: `ConsistentSnapshot`. */
    tagKey?: string;
    /** Tag value of the instances to snapshot. Required. AWS constraint: at most 500 characters. */
    tagValue: string;
    /**
     * When DLM creates the snapshots: `cron(...)` in **UTC** (DLM has no time zone; it starts within an hour of
     * the time). Default: `cron(0 0 * * ? *)`. AWS constraint: 17-106 characters, at most one run an hour.
     */
    cronExpression?: string;
    /** Keep this many snapshots per volume (1-1000). Default: 7 when `retainDays` is not set. Exclusive with `retainDays`. */
    retainCount?: number;
    /** Keep snapshots this many days (1-36500). Exclusive with `retainCount`. */
    retainDays?: number;
    /** Copy every snapshot to these Regions (at most 3), encrypted. Default: none. */
    copyToRegions?: SnapshotCopyRegion[];
    /** Enable fast snapshot restore in these Availability Zones (at most 10; billed per AZ-hour). Default: none. */
    fastRestoreAvailabilityZones?: string[];
    /** How many of the newest snapshots keep fast snapshot restore (1-1000). Default: 1. */
    fastRestoreCount?: number;
    /**
     * Tags DLM adds to every snapshot. Default: none. AWS constraint: at most 45. Not `InstanceId`: DLM sets it to
     * the snapshotted instance (a variable tag), and each host's rights over its snapshots are keyed on it.
     */
    tagsToAdd?: Record<string, string>;
    /** Copy the instance's tags to its snapshots. Default: true. */
    copyTags?: boolean;
    /**
     * Whether DLM takes a crash-consistent snapshot anyway when the pre-script fails. Default: **false**: a failed
     * quiesce is a failed backup that alerts, not a silently weaker one.
     */
    executeOperationOnScriptFailure?: boolean;
    /**
     * Seconds DLM waits for each script (its `executionTimeout`; the pre-script locks with retries and freezes within
     * it). Default: 120. AWS constraint: 10-120. The document's `preScriptSeconds` must not exceed it.
     */
    scriptExecutionTimeoutSeconds?: number;
    /** Retries of a failed script. Default: 0. AWS constraint: 0-3. */
    scriptMaximumRetryCount?: number;
    /** Leave the boot volume out. Default: true. */
    excludeBootVolume?: boolean;
    /** Whether the policy runs. Default: true. */
    enabled?: boolean;
    /**
     * Route failures to SNS: the document's failed, timed-out or cancelled runs (SSM's command events, the same
     * whoever sent the command), the policy entering its ERROR state (DLM's event) and failed multi-volume
     * snapshots (EBS's event, which names no policy: any in the account and Region). Default: true.
     */
    alertsEnabled?: boolean;
    /** Publish alerts to this existing SNS topic instead of creating one (its policy must let events.amazonaws.com publish). Default: a new topic. */
    alertTopicArn?: pulumi.Input<string>;
    /** Subscribe this e-mail address to the alerts (AWS sends a confirmation mail first). Default: none. */
    alertEmail?: string;
    /**
     * Hours without a consistent snapshot after which the freshness alarm fires (and, with alerts, says so on the
     * alert topic): an hour counts when DLM both completed snapshots and ran the post-script successfully (DLM's
     * AWS/EBS metrics SnapshotsCreateCompleted and PostScriptCompleted for the policy; per policy, not per
     * instance). 0: no freshness alarm. Default: twice the longest gap between runs of `cronExpression`, at least
     * 26 (daily: 48); required when that gap is not plain to compute. AWS constraint: 1-168, more than the gap.
     */
    freshnessHours?: number;
    /**
     * Scheduled restore drills of the policy's target (a RestoreDrill child, target name `main`: weekly by default, on
     * a short-lived instance in `restoreDrill.subnetId`), counted on the policy's dashboard, failures sent to its
     * alert topic. DLM's snapshots restore once its post-script has tagged them. Default: none.
     */
    restoreDrill?: RestoreDrillRunArgs;
    /** Tags for the policy and its role. Default: none. */
    tags?: Record<string, string>;
}

/** The drill target's name under DLM (one policy, one target). */
export const LIFECYCLE_POLICY_DRILL_TARGET = "main";

/** DLM's default wait for each script here: its maximum, for a pre-script that locks with retries and freezes. */
export const DEFAULT_SCRIPT_EXECUTION_TIMEOUT_SECONDS = 120;

/**
 * How the script spends a pre-script's time (scripts/consistent-snapshot.sh, lock_attempt_fits: its
 * PRE_SCRIPT_FREEZE_MS and PRE_SCRIPT_HANDOVER_MS are these). Discovery (IMDS, DescribeInstances, mounts, the
 * database session) is not bounded by the script; it is given this allowance here, and the script starts no
 * lock attempt that would not end, freeze and hand over in time after whatever discovery took.
 */
export const PRE_SCRIPT_BUDGET = Object.freeze({
    discoverySeconds: 10,
    /** Statements per lock attempt that may each wait lockTimeoutSeconds: MariaDB's BACKUP STAGE (START, FLUSH, BLOCK_DDL, BLOCK_COMMIT), the most of any lock method. */
    statementsPerAttempt: 4,
    secondsBetweenAttempts: 1,
    freezeSeconds: 2,
    handOverSeconds: 3,
});

/** The longest a pre-script can take with every lock attempt timing out, by PRE_SCRIPT_BUDGET. */
export function preScriptWorstCaseSeconds(lockTimeoutSeconds: number, lockRetries: number): number {
    const b = PRE_SCRIPT_BUDGET;
    return (
        b.discoverySeconds +
        (lockRetries + 1) * b.statementsPerAttempt * lockTimeoutSeconds +
        lockRetries * b.secondsBetweenAttempts +
        b.freezeSeconds +
        b.handOverSeconds
    );
}

/**
 * Problems with the time a DLM pre-script has: DLM counts a pre-script still running at its executionTimeout as
 * failed and sends no post-script, so a lock taken after that would be held for nothing until maxFreezeSeconds.
 * `parameters` are the document's defaults (what DLM runs with; the script's own where unset); `key` names a
 * parameter as the caller's user wrote it (a config key or an argument).
 */
export function preScriptBudgetErrors(parameters: Readonly<Record<string, string>>, executionTimeoutSeconds: number, key: (name: string) => string): string[] {
    const value = (name: string) => Number(parameters[name] ?? CONSISTENT_SNAPSHOT_PARAMETERS[name].default);
    const lockTimeoutSeconds = value("lockTimeoutSeconds"),
        lockRetries = value("lockRetries"),
        preScriptSeconds = value("preScriptSeconds");
    const errors: string[] = [];
    if (preScriptSeconds > executionTimeoutSeconds) {
        errors.push(
            `${key("preScriptSeconds")} ${preScriptSeconds}: expected at most the scripts' executionTimeout, ${executionTimeoutSeconds} s (DLM stops waiting then; the script must stop locking before)`,
        );
    }
    const budget = Math.min(preScriptSeconds, executionTimeoutSeconds);
    const worst = preScriptWorstCaseSeconds(lockTimeoutSeconds, lockRetries);
    if (worst > budget) {
        const b = PRE_SCRIPT_BUDGET;
        const fixed = b.discoverySeconds + b.freezeSeconds + b.handOverSeconds;
        const perAttempt = b.statementsPerAttempt * lockTimeoutSeconds;
        const retriesThatFit = Math.floor((budget - fixed - perAttempt) / (perAttempt + b.secondsBetweenAttempts));
        const fix =
            retriesThatFit >= 0
                ? `${key("lockRetries")} at most ${retriesThatFit}, a smaller ${key("lockTimeoutSeconds")}`
                : `${key("lockTimeoutSeconds")} at most ${Math.floor((budget - fixed) / b.statementsPerAttempt)}`;
        errors.push(
            `${key("lockRetries")} ${lockRetries} with ${key("lockTimeoutSeconds")} ${lockTimeoutSeconds}: a pre-script may take ${worst} s ` +
                `(${b.discoverySeconds} s discovery, ${lockRetries + 1} lock attempts of up to ${b.statementsPerAttempt} statements x ${lockTimeoutSeconds} s, ` +
                `${b.secondsBetweenAttempts} s between attempts, ${b.freezeSeconds} s freeze, ${b.handOverSeconds} s hand-over), more than the ${budget} s DLM gives it; ` +
                `expected ${fix}, or a longer scriptExecutionTimeoutSeconds (at most 120) and preScriptSeconds`,
        );
    }
    return errors;
}

/** DLM's cron form (API model: 17-106 characters). */
const DLM_CRON = /^cron\([^\n]{11,100}\)$/;
/** A Region name as DLM's TargetRegion takes it. */
const REGION_NAME = /^([a-z]+-){2,3}\d$/;
/** An Availability Zone name as DLM's FastRestoreRule takes it. */
const AZ_NAME = /^([a-z]+-){2,3}\d[a-z]$/;

/** The arguments `lifecyclePolicyArgsErrors` checks: all of them; of the document, only its parameter defaults are read. */
export type LifecyclePolicyArgsToCheck = Omit<SnapshotLifecyclePolicyArgs, "document"> & { document: Partial<DocumentReference> };

/** Every problem with the arguments, each naming the argument and the accepted form. */
export function lifecyclePolicyArgsErrors(args: LifecyclePolicyArgsToCheck): string[] {
    const errors: string[] = [];
    const range = (name: string, value: number | undefined, min: number, max: number) => {
        if (value !== undefined && (!Number.isInteger(value) || value < min || value > max))
            errors.push(`${name} ${value}: expected a whole number from ${min} to ${max}`);
    };
    if (args.cronExpression !== undefined && !DLM_CRON.test(args.cronExpression))
        errors.push(`cronExpression '${args.cronExpression}': expected cron(...) of 17-106 characters, in UTC`);
    if (args.retainCount !== undefined && args.retainDays !== undefined) errors.push("retainCount and retainDays: set one, not both");
    range("retainCount", args.retainCount, 1, 1000);
    range("retainDays", args.retainDays, 1, 36500);
    range("fastRestoreCount", args.fastRestoreCount, 1, 1000);
    range("scriptExecutionTimeoutSeconds", args.scriptExecutionTimeoutSeconds, 10, 120);
    range("scriptMaximumRetryCount", args.scriptMaximumRetryCount, 0, 3);
    const regions = args.copyToRegions ?? [];
    if (regions.length > 3) errors.push(`copyToRegions: ${regions.length} Regions; DLM copies to at most 3`);
    regions.forEach((r, i) => {
        if (!REGION_NAME.test(r.region)) errors.push(`copyToRegions[${i}].region '${r.region}': expected a Region name such as eu-central-1`);
        range(`copyToRegions[${i}].retainDays`, r.retainDays, 1, 36500);
        if (r.cmkArn !== undefined && !/^arn:aws(-[a-z]{1,3}){0,2}:kms:([a-z]+-){2,3}\d:\d{12}:key\/.+$/.test(r.cmkArn)) {
            errors.push(`copyToRegions[${i}].cmkArn '${r.cmkArn}': expected a KMS key ARN in the destination Region`);
        }
    });
    const zones = args.fastRestoreAvailabilityZones ?? [];
    if (zones.length > 10) errors.push(`fastRestoreAvailabilityZones: ${zones.length} zones; DLM takes at most 10`);
    zones.forEach((z, i) => {
        if (!AZ_NAME.test(z)) errors.push(`fastRestoreAvailabilityZones[${i}] '${z}': expected an Availability Zone name such as eu-west-1a`);
    });
    if (Object.keys(args.tagsToAdd ?? {}).length > 44) errors.push("tagsToAdd: at most 44 (DLM adds at most 45 tags, and this component adds CreatedByPolicy)");
    if (INSTANCE_ID_TAG_KEY in (args.tagsToAdd ?? {})) {
        errors.push(
            `tagsToAdd.${INSTANCE_ID_TAG_KEY}: reserved (DLM tags each snapshot with its instance id, which the hosts' IAM policy keys on); use another key`,
        );
    }
    if (args.tagValue.length > 500) errors.push("tagValue: DLM target tags are at most 500 characters");
    const freshness = freshnessHoursFor(args.freshnessHours, args.cronExpression ?? DEFAULT_SCHEDULE);
    if (typeof freshness === "string") errors.push(`freshnessHours: expected ${freshness}`);
    else {
        const problem = freshnessError(freshness, args.cronExpression ?? DEFAULT_SCHEDULE);
        if (problem) errors.push(`freshnessHours ${freshness}: expected ${problem}`);
    }
    if (args.document.parameterDefaults) {
        errors.push(
            ...preScriptBudgetErrors(
                args.document.parameterDefaults,
                args.scriptExecutionTimeoutSeconds ?? DEFAULT_SCRIPT_EXECUTION_TIMEOUT_SECONDS,
                (parameter) => `document.parameterDefaults.${parameter}`,
            ),
        );
    }
    if (args.restoreDrill) {
        errors.push(...restoreDrillRunArgsErrors(args.restoreDrill));
    }
    return errors;
}

function validArgs(name: string, args: SnapshotLifecyclePolicyArgs): SnapshotLifecyclePolicyArgs {
    const errors = lifecyclePolicyArgsErrors(args);
    if (errors.length > 0) throw new Error(`SnapshotLifecyclePolicy ${name}: ${errors.join("; ")}`);
    return args;
}

/** What DLM does with this role: snapshots, their tags, copies, fast restore, and the scripts through SSM. */
export function lifecyclePolicyRolePolicy(
    ctx: AccountContext,
    scope: { documentArn: string; tagKey: string; tagValue: string; cmkArns: string[] },
): PolicyDocument {
    const policy: PolicyDocument = {
        Version: "2012-10-17",
        Statement: [
            {
                // What AWSDataLifecycleManagerServiceRole grants for snapshots, less AMI, archive and sharing actions.
                Sid: "Snapshots",
                Effect: "Allow",
                Resource: "*",
                Action: [
                    "ec2:CreateSnapshot",
                    "ec2:CreateSnapshots",
                    "ec2:DeleteSnapshot",
                    "ec2:DescribeInstances",
                    "ec2:DescribeVolumes",
                    "ec2:DescribeSnapshots",
                    "ec2:CopySnapshot",
                    "ec2:EnableFastSnapshotRestores",
                    "ec2:DescribeFastSnapshotRestores",
                    "ec2:DisableFastSnapshotRestores",
                    "ec2:DescribeAvailabilityZones",
                ],
            },
            { Sid: "SnapshotTags", Effect: "Allow", Action: ["ec2:CreateTags"], Resource: `arn:${ctx.partition}:ec2:*::snapshot/*` },
            {
                // AWSDataLifecycleManagerSSMFullAccess (v2), scoped: this document (it also reads it before running
                // it), to the targeted instances only.
                Sid: "RunScripts",
                Effect: "Allow",
                Action: ["ssm:SendCommand", "ssm:DescribeDocument", "ssm:GetDocument"],
                Resource: [scope.documentArn],
            },
            {
                Sid: "RunScriptsOnTargets",
                Effect: "Allow",
                Action: ["ssm:SendCommand"],
                Resource: `arn:${ctx.partition}:ec2:${ctx.region}:${ctx.accountId}:instance/*`,
                Condition: { StringEquals: { [`ssm:resourceTag/${scope.tagKey}`]: scope.tagValue } },
            },
            {
                Sid: "FollowScripts",
                Effect: "Allow",
                Resource: "*",
                Action: ["ssm:GetCommandInvocation", "ssm:ListCommands", "ssm:DescribeInstanceInformation"],
            },
        ],
    };
    if (scope.cmkArns.length > 0) {
        policy.Statement.push(
            {
                Sid: "EncryptCopies",
                Effect: "Allow",
                Resource: scope.cmkArns,
                Action: ["kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey"],
            },
            {
                // EBS takes a grant on the key for the copy it encrypts; nobody else gets one through this role.
                Sid: "GrantKeysToEbsOnly",
                Effect: "Allow",
                Resource: scope.cmkArns,
                Action: ["kms:CreateGrant"],
                Condition: { Bool: { "kms:GrantIsForAWSResource": "true" } },
            },
        );
    }
    return policy;
}

/**
 * Data Lifecycle Manager as the scheduler: an instance snapshot policy for instances tagged `<tagKey>=<tagValue>`
 * whose pre and post scripts are the snapshot document (lock and freeze held from pre to post), with DLM's
 * retention, cross-Region copies and fast snapshot restore, and a least-privilege execution role.
 */
export class SnapshotLifecyclePolicy extends pulumi.ComponentResource {
    /** The lifecycle policy's id (`policy-…`). */
    public readonly lifecyclePolicyId: pulumi.Output<string>;
    /** The lifecycle policy's ARN. */
    public readonly lifecyclePolicyArn: pulumi.Output<string>;
    /** The execution role's ARN. */
    public readonly executionRoleArn: pulumi.Output<string>;
    /**
     * A managed policy with what the script needs on the targeted hosts as pre/post script (describe its volumes,
     * find and tag DLM's snapshots): attach it to their instance role.
     */
    public readonly instancePolicyArn: pulumi.Output<string>;
    /** The SNS topic failures are published to (undefined when alerts are off). */
    public readonly alertTopicArn?: pulumi.Output<string>;
    /** The freshness alarm's ARN (undefined when freshnessHours is 0). */
    public readonly freshnessAlarmArn?: pulumi.Output<string>;
    /** The hours without a consistent snapshot after which the freshness alarm fires (0: none). */
    public readonly freshnessHours: number;
    /** The CloudWatch dashboard of the policy: DLM's snapshot and script metrics, the freshness alarm, the restore drills. */
    public readonly dashboardName: pulumi.Output<string>;
    /** The restore drill of the policy's target (undefined without `restoreDrill`). */
    public readonly restoreDrill?: RestoreDrill;

    constructor(name: string, args: SnapshotLifecyclePolicyArgs, opts?: pulumi.ComponentResourceOptions) {
        // Checked before anything is registered, the component included.
        super("consistent-snapshots:index:SnapshotLifecyclePolicy", name, validArgs(name, args), opts);
        const tagKey = args.tagKey ?? DEFAULT_TAG_KEY;
        const retainDays = args.retainDays;
        const retainRule = retainDays !== undefined ? { interval: retainDays, intervalUnit: "DAYS" } : { count: args.retainCount ?? DEFAULT_RETAIN_COUNT };
        const ctx = accountContext(this);

        const role = new aws.iam.Role(
            `${name}-role`,
            {
                description: "consistent-snapshots Data Lifecycle Manager policy: snapshots and the pre/post scripts",
                // DLM documents no aws:SourceAccount for the roles it assumes: no condition it may not set.
                assumeRolePolicy: serviceTrustPolicy("dlm.amazonaws.com"),
                tags: args.tags,
            },
            { parent: this },
        );
        const cmkArns = (args.copyToRegions ?? []).flatMap((r) => (r.cmkArn ? [r.cmkArn] : []));
        const rolePolicy = new aws.iam.RolePolicy(
            `${name}-role-policy`,
            {
                role: role.id,
                policy: pulumi
                    .all([ctx, args.document.documentArn])
                    .apply(([c, documentArn]) => JSON.stringify(lifecyclePolicyRolePolicy(c, { documentArn, tagKey, tagValue: args.tagValue, cmkArns }))),
            },
            { parent: this },
        );

        const policy = new aws.dlm.LifecyclePolicy(
            name,
            {
                description: "consistent-snapshots application-consistent instance snapshots",
                executionRoleArn: role.arn,
                state: args.enabled === false ? "DISABLED" : "ENABLED",
                policyDetails: {
                    policyType: "EBS_SNAPSHOT_MANAGEMENT",
                    resourceTypes: ["INSTANCE"],
                    targetTags: { [tagKey]: args.tagValue },
                    parameters: { excludeBootVolume: args.excludeBootVolume ?? true },
                    schedules: [
                        {
                            name: "consistent-snapshots",
                            copyTags: args.copyTags ?? true,
                            tagsToAdd: { [LIFECYCLE_POLICY_TAG.key]: LIFECYCLE_POLICY_TAG.value, ...args.tagsToAdd },
                            // Whose snapshot each is: a host may tag (post-script) only snapshots of itself.
                            variableTags: { [INSTANCE_ID_TAG_KEY]: "$(instance-id)" },
                            createRule: {
                                cronExpression: args.cronExpression ?? DEFAULT_SCHEDULE,
                                scripts: {
                                    executionHandler: args.document.documentName,
                                    executionHandlerService: "AWS_SYSTEMS_MANAGER",
                                    stages: ["PRE", "POST"],
                                    executionTimeout: args.scriptExecutionTimeoutSeconds ?? DEFAULT_SCRIPT_EXECUTION_TIMEOUT_SECONDS,
                                    maximumRetryCount: args.scriptMaximumRetryCount ?? 0,
                                    executeOperationOnScriptFailure: args.executeOperationOnScriptFailure ?? false,
                                },
                            },
                            retainRule,
                            crossRegionCopyRules: (args.copyToRegions ?? []).map((r) => ({
                                targetRegion: r.region,
                                encrypted: true,
                                cmkArn: r.cmkArn,
                                copyTags: true,
                                retainRule: { interval: r.retainDays ?? retainDays ?? 30, intervalUnit: "DAYS" },
                            })),
                            fastRestoreRule: args.fastRestoreAvailabilityZones?.length
                                ? { availabilityZones: args.fastRestoreAvailabilityZones, count: args.fastRestoreCount ?? 1 }
                                : undefined,
                        },
                    ],
                },
                tags: args.tags,
            },
            { parent: this, dependsOn: [rolePolicy] },
        );

        const instancePolicy = new aws.iam.Policy(
            `${name}-instance`,
            {
                description: "consistent-snapshots: what the pre/post script calls on hosts Data Lifecycle Manager snapshots",
                policy: ctx.apply((c) => JSON.stringify(lifecyclePolicyInstancePolicy(c, { tagKey, tagValues: [args.tagValue] }))),
                tags: args.tags,
            },
            { parent: this },
        );

        const freshness = freshnessHoursFor(args.freshnessHours, args.cronExpression ?? DEFAULT_SCHEDULE);
        this.freshnessHours = typeof freshness === "number" ? freshness : 0;
        const alarm =
            this.freshnessHours > 0
                ? freshnessAlarm(this, `${name}-fresh`, {
                      metrics: ["SnapshotsCreateCompleted", "PostScriptCompleted"].map((metricName) => ({
                          namespace: "AWS/EBS",
                          metricName,
                          dimensions: { DLMPolicyId: policy.id },
                      })),
                      hours: this.freshnessHours,
                      tags: args.tags,
                      description: `consistent-snapshots: Data Lifecycle Manager took no consistent snapshot (snapshots completed and post-script succeeded) of instances tagged ${tagKey}=${args.tagValue} in ${this.freshnessHours} h.`,
                  })
                : undefined;
        this.freshnessAlarmArn = alarm?.arn;
        if (args.restoreDrill) {
            this.restoreDrill = ownedRestoreDrill(this, name, args.restoreDrill, {
                targets: [{ name: LIFECYCLE_POLICY_DRILL_TARGET, tagValue: args.tagValue }],
                tagKey,
                metricNamespace: DEFAULT_METRIC_NAMESPACE,
                tags: args.tags,
            });
        }
        const drillTargets = this.restoreDrill?.targetNames ?? [];
        const dashboard = new aws.cloudwatch.Dashboard(
            `${name}-runs`,
            {
                dashboardName: ctx.apply((c) => defaultDashboardName(name, c.region)),
                dashboardBody: pulumi
                    .all([ctx, policy.id, alarm ? alarm.arn : pulumi.output("")])
                    .apply(([c, policyId, arn]) => lifecyclePolicyDashboardBody(c.region, policyId, arn ? [arn] : [], drillTargets, DEFAULT_METRIC_NAMESPACE)),
            },
            { parent: this },
        );
        this.dashboardName = dashboard.dashboardName;

        if (args.alertsEnabled ?? true) {
            this.alertTopicArn = failureAlerts(
                this,
                name,
                [
                    ...(this.restoreDrill?.alertRules ?? []),
                    ...(alarm
                        ? [
                              {
                                  suffix: "stale",
                                  description: "consistent-snapshots: no consistent snapshot within the freshness window",
                                  eventPattern: alarm.arn.apply((arn) => alarmPattern([arn])),
                                  message: STALE_MESSAGE,
                              },
                          ]
                        : []),
                    {
                        suffix: "script-failed",
                        description: "consistent-snapshots: a DLM pre or post script failed, timed out or was cancelled on an instance",
                        eventPattern: pulumi.output(args.document.documentName).apply((n) => commandFailedPattern([n])),
                        message: COMMAND_FAILED_MESSAGE,
                    },
                    {
                        suffix: "policy-error",
                        description: "consistent-snapshots: the Data Lifecycle Manager policy is in its ERROR state",
                        eventPattern: policy.arn.apply(lifecyclePolicyErrorPattern),
                        message: LIFECYCLE_POLICY_ERROR_MESSAGE,
                    },
                    {
                        suffix: "snapshots-failed",
                        description: "consistent-snapshots: a multi-volume CreateSnapshots failed in this account and Region",
                        eventPattern: SNAPSHOTS_FAILED_PATTERN,
                        message: SNAPSHOTS_FAILED_MESSAGE,
                    },
                ],
                { topicArn: args.alertTopicArn, email: args.alertEmail, ctx, tags: args.tags },
            );
        }

        this.lifecyclePolicyId = policy.id;
        this.instancePolicyArn = instancePolicy.arn;
        this.lifecyclePolicyArn = policy.arn;
        this.executionRoleArn = role.arn;
        this.registerOutputs({
            lifecyclePolicyId: this.lifecyclePolicyId,
            lifecyclePolicyArn: this.lifecyclePolicyArn,
            executionRoleArn: this.executionRoleArn,
            instancePolicyArn: this.instancePolicyArn,
            alertTopicArn: this.alertTopicArn,
            freshnessAlarmArn: this.freshnessAlarmArn,
            freshnessHours: this.freshnessHours,
            dashboardName: this.dashboardName,
            restoreDrillDocumentName: this.restoreDrill?.automationDocumentName,
        });
    }
}
