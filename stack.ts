// Composes the components from validated stack configuration. Kept apart from index.ts so that tests can
// build the stack once per configuration.
import { MysqlHost, Network, RestoreDrill, SnapshotDocument, SnapshotLifecyclePolicy, SnapshotMaintenanceWindow, RestoreDrillRunArgs } from "./components";
import { MAIN_TARGET_NAME, hasRestoreDrill, loadStackConfig, StackConfig, windowTargets } from "./config";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { SnapshotScriptName } from "./components/snapshotDocument";
import { DEFAULT_RETAIN_COUNT } from "./components/snapshotLifecyclePolicy";
import { CREATED_BY_TAG, LIFECYCLE_POLICY_TAG } from "./components/snapshotTags";
import { accountContext, operatorPolicy } from "./components/policies";

export interface StackOutputs {
    /** maintenanceWindow scheduler only. */
    maintenanceWindowId?: pulumi.Output<string>;
    maintenanceWindowRoleArn?: pulumi.Output<string>;
    targetIds?: pulumi.Output<Record<string, string>>;
    logGroupName?: pulumi.Output<string>;
    /** dlm scheduler only. */
    lifecyclePolicyId?: pulumi.Output<string>;
    lifecyclePolicyRoleArn?: pulumi.Output<string>;
    documentNames: pulumi.Output<string[]>;
    instancePolicyArn: pulumi.Output<string>;
    alertTopicArn?: pulumi.Output<string>;
    /** The freshness alarms (no successful run within freshnessHours), by target name (under DLM: `policy`). */
    freshnessAlarmArns?: pulumi.Output<Record<string, string>>;
    /** What run-now sends to the main target (the operator CLI's `run --stack-outputs` defaults). */
    runNowSettings: pulumi.Output<RunNowSettings>;
    /** Shell commands for operators: run the main target now, see recent runs, list the snapshots. */
    runNowCommand: pulumi.Output<string>;
    historyCommand: pulumi.Output<string>;
    snapshotsCommand: pulumi.Output<string>;
    /** A managed policy for the people on call: what the operator CLI needs for this stack, nothing more. */
    operatorPolicyArn: pulumi.Output<string>;
    /** The restore drill's runbook (`npx consistent-snapshots verify <RunId> --drill-document <name>`), when restoreDrill is set. */
    restoreDrillDocumentName?: pulumi.Output<string>;
    vpcId?: pulumi.Output<string>;
    instanceId?: pulumi.Output<string>;
    dataVolumeId?: pulumi.Output<string>;
}

export { MAIN_TARGET_NAME };

/** The main target and what a run-now sends it: the stack's concurrency and parameters (under DLM, its retention). */
export interface RunNowSettings {
    tagKey: string;
    tagValue: string;
    maxConcurrency: string;
    maxErrors: string;
    parameters: Record<string, string>;
}

export function createStack(config: StackConfig = loadStackConfig()): StackOutputs {
    const tags = { Project: "consistent-snapshots", Stack: pulumi.getStack() };
    const isDlm = config.scheduler === "dlm";
    // DLM passes only command and executionId: the document's defaults are the stack's parameters.
    const document = new SnapshotDocument(
        "consistent-snapshot",
        isDlm ? { tags: { ...tags, DLMScriptsAccess: "true" }, parameterDefaults: dlmParameterDefaults(config) } : { tags },
    );
    // One document per script a target runs (the main target's is the one above).
    const documents = new Map<SnapshotScriptName, SnapshotDocument>([["consistent-snapshot", document]]);
    const documentFor = (script: SnapshotScriptName): SnapshotDocument => {
        if (!documents.has(script)) documents.set(script, new SnapshotDocument(script, { script, tags }));
        return documents.get(script)!;
    };
    const network = config.createDemoHost ? new Network("network", { mode: config.networkMode, tags }) : undefined;
    const restoreDrill: RestoreDrillRunArgs | undefined = hasRestoreDrill(config)
        ? {
              ...config.restoreDrill,
              subnetId: config.restoreDrill.subnetId === "auto" ? network!.subnetIds.apply((ids) => ids[0]) : config.restoreDrill.subnetId,
          }
        : undefined;
    const schedule = isDlm ? lifecyclePolicySchedule(config, document, tags, restoreDrill) : maintenanceWindowSchedule(config, documentFor, tags, restoreDrill);

    const region = aws.getRegionOutput().region;
    // A run-now serves the main target: its success counts toward the main target's freshness.
    const runNowParameters = isDlm ? dlmRunNowRetention(config) : { target: MAIN_TARGET_NAME, ...config.snapshotParameters };
    const parameters =
        Object.keys(runNowParameters).length > 0
            ? [`--parameters '${JSON.stringify(Object.fromEntries(Object.entries(runNowParameters).map(([k, v]) => [k, [v]])))}'`]
            : [];
    const outputs: StackOutputs = {
        ...schedule.outputs,
        documentNames: pulumi.all([...documents.values()].map((d) => d.documentName)),
        runNowSettings: pulumi.output({
            tagKey: config.tagKey,
            tagValue: config.tagValue,
            maxConcurrency: config.maxConcurrency,
            maxErrors: config.maxErrors,
            parameters: runNowParameters,
        }),
        runNowCommand: shellCommand([
            "aws ssm send-command --region",
            region,
            "--document-name",
            document.documentName,
            `--targets 'Key=tag:${config.tagKey},Values=${config.tagValue}'`,
            "--max-concurrency",
            config.maxConcurrency,
            "--max-errors",
            config.maxErrors,
            ...parameters,
            "--comment 'consistent-snapshots run now'",
            ...(schedule.logGroupName
                ? [pulumi.interpolate`--cloud-watch-output-config CloudWatchOutputEnabled=true,CloudWatchLogGroupName=${schedule.logGroupName}`]
                : []),
        ]),
        historyCommand: shellCommand([
            ...schedule.historyWords(region),
            "&& aws ssm list-commands --region",
            region,
            pulumi.interpolate`--filters key=DocumentName,value=${document.documentName}`,
            "--max-results 10",
            "--query 'Commands[].[RequestedDateTime,CommandId,Status,CompletedCount,ErrorCount]' --output table",
        ]),
        snapshotsCommand: shellCommand(["aws ec2 describe-snapshots --region", region, "--owner-ids self", ...snapshotListing(isDlm)]),
        operatorPolicyArn: new aws.iam.Policy("operator", {
            description: "consistent-snapshots: what the operator CLI needs for this stack (read, run now, restore, verify)",
            policy: pulumi
                .all([
                    accountContext(document),
                    pulumi.all([...documents.values()].map((d) => d.documentArn)),
                    pulumi.all(schedule.drill ? [schedule.drill.automationDocumentName] : []),
                    pulumi.all(schedule.drill ? [schedule.drill.automationRoleArn] : []),
                ])
                .apply(([ctx, documentArns, drillDocumentNames, drillRoleArns]) =>
                    JSON.stringify(
                        operatorPolicy(ctx, {
                            documentArns,
                            tagKey: config.tagKey,
                            tagValues: windowTargetValues(config),
                            drillDocumentNames,
                            drillRoleArns,
                        }),
                    ),
                ),
            tags,
        }).arn,
    };

    if (network) {
        const host = new MysqlHost("mysql", {
            vpcId: network.vpcId,
            subnetId: network.subnetIds.apply((ids) => ids[0]),
            associatePublicIpAddress: config.networkMode === "public",
            tagKey: config.tagKey,
            tagValue: config.tagValue,
            instanceType: config.instanceType,
            dataVolumeSizeGiB: config.dataVolumeSizeGiB,
            protectDataVolume: config.protectDataVolume,
            retainDataVolumeOnDelete: config.retainDataVolumeOnDelete,
            binlogExpireDays: config.binlogExpireDays,
            logGroupArn: schedule.logGroupArn,
            lifecyclePolicyScripts: isDlm,
            tags,
        });
        outputs.vpcId = network.vpcId;
        outputs.instanceId = host.instanceId;
        outputs.dataVolumeId = host.dataVolumeId;
    }
    return outputs;
}

/** Every tag value the stack targets (the main one, then the extra targets'). */
function windowTargetValues(config: StackConfig): string[] {
    return [config.tagValue, ...config.extraTargets.map((t) => t.tagValue)];
}

/** Where either scheduler sends its failure alerts, and the stack's tags. */
function alertsAndTags(config: StackConfig, tags: Record<string, string>) {
    return { alertTopicArn: config.alertTopicArn || undefined, alertEmail: config.alertEmail || undefined, tags };
}

export { LIFECYCLE_POLICY_TAG };

interface Schedule {
    outputs: Partial<StackOutputs> & { instancePolicyArn: pulumi.Output<string> };
    logGroupName?: pulumi.Output<string>;
    logGroupArn?: pulumi.Output<string>;
    historyWords: (region: pulumi.Output<string>) => pulumi.Input<string>[];
    drill?: RestoreDrill;
}

function maintenanceWindowSchedule(
    config: StackConfig,
    documentFor: (script: SnapshotScriptName) => SnapshotDocument,
    tags: Record<string, string>,
    restoreDrill: RestoreDrillRunArgs | undefined,
): Schedule {
    const window = new SnapshotMaintenanceWindow("snapshots", {
        schedule: config.schedule,
        scheduleTimezone: config.scheduleTimezone,
        duration: config.duration,
        cutoff: config.cutoff,
        enabled: config.enabled,
        tagKey: config.tagKey,
        logRetentionDays: config.logRetentionDays,
        createLogGroupKmsKey: config.logGroupKmsKey === "create",
        logGroupKmsKeyArn: config.logGroupKmsKey.startsWith("arn:") ? config.logGroupKmsKey : undefined,
        commandTimeoutSeconds: config.commandTimeoutSeconds,
        freshnessHours: config.freshnessHours === "auto" ? undefined : config.freshnessHours,
        targets: windowTargets(config).map(({ script, ...target }) => ({ ...target, document: documentFor(script) })),
        restoreDrill,
        ...alertsAndTags(config, tags),
    });
    return {
        outputs: {
            maintenanceWindowId: window.maintenanceWindowId,
            maintenanceWindowRoleArn: window.maintenanceWindowRoleArn,
            targetIds: window.targetIds,
            logGroupName: window.logGroupName,
            instancePolicyArn: window.instancePolicyArn,
            alertTopicArn: window.alertTopicArn,
            freshnessAlarmArns: window.freshnessAlarmArns,
            restoreDrillDocumentName: window.restoreDrill?.automationDocumentName,
        },
        logGroupName: window.logGroupName,
        logGroupArn: window.logGroupArn,
        drill: window.restoreDrill,
        historyWords: (region) => [
            "aws ssm describe-maintenance-window-executions --region",
            region,
            "--window-id",
            window.maintenanceWindowId,
            "--max-results 10",
        ],
    };
}

function lifecyclePolicySchedule(
    config: StackConfig,
    document: SnapshotDocument,
    tags: Record<string, string>,
    restoreDrill: RestoreDrillRunArgs | undefined,
): Schedule {
    const policy = new SnapshotLifecyclePolicy("snapshots", {
        document,
        tagKey: config.tagKey,
        tagValue: config.tagValue,
        cronExpression: config.schedule,
        ...dlmRetention(config),
        copyToRegions: config.copyToRegions,
        fastRestoreAvailabilityZones: config.fastRestoreAvailabilityZones,
        executeOperationOnScriptFailure: config.executeOperationOnScriptFailure,
        freshnessHours: config.freshnessHours === "auto" ? undefined : config.freshnessHours,
        enabled: config.enabled,
        restoreDrill,
        ...alertsAndTags(config, tags),
    });
    return {
        outputs: {
            restoreDrillDocumentName: policy.restoreDrill?.automationDocumentName,
            lifecyclePolicyId: policy.lifecyclePolicyId,
            lifecyclePolicyRoleArn: policy.executionRoleArn,
            instancePolicyArn: policy.instancePolicyArn,
            alertTopicArn: policy.alertTopicArn,
            freshnessAlarmArns: pulumi.output(policy.freshnessAlarmArn).apply((arn): Record<string, string> => (arn ? { policy: arn } : {})),
        },
        drill: policy.restoreDrill,
        historyWords: (region) => [
            "aws dlm get-lifecycle-policy --region",
            region,
            "--policy-id",
            policy.lifecyclePolicyId,
            "--query 'Policy.[State,StatusMessage]' --output text",
        ],
    };
}

/**
 * The document defaults a DLM-run script gets: the stack's snapshot parameters, without the retention ones (DLM
 * keeps its own snapshots; the script must not prune), and a maxFreezeSeconds of 60 unless set: the hold must
 * last from the end of the pre-script until DLM's post-script arrives.
 */
export function dlmParameterDefaults(config: StackConfig): Record<string, string> {
    const { retainCount: _count, retainDays: _days, ...rest } = config.snapshotParameters; // eslint-disable-line @typescript-eslint/no-unused-vars
    return { maxFreezeSeconds: "60", ...rest };
}

/**
 * Under DLM, a run-now snapshot is the script's own (tagged CreatedBy, never pruned by DLM): the run-now command
 * gives it the DLM policy's retention, which the script applies to its own run-now snapshots of the instance only.
 */
export function dlmRunNowRetention(config: StackConfig): Record<string, string> {
    const { retainDays, retainCount } = dlmRetention(config);
    return retainDays !== undefined ? { retainDays: String(retainDays) } : { retainCount: String(retainCount ?? DEFAULT_RETAIN_COUNT) };
}

/**
 * The DLM policy's retention, from the stack's snapshot parameters (retainDays wins over retainCount, as in the
 * script); a value of 0 or none leaves it to the policy's default.
 */
function dlmRetention(config: StackConfig): { retainCount?: number; retainDays?: number } {
    const positive = (value: string | undefined) => (Number(value ?? "0") > 0 ? Number(value) : undefined);
    const retainDays = positive(config.snapshotParameters.retainDays);
    return retainDays !== undefined ? { retainDays } : { retainCount: positive(config.snapshotParameters.retainCount) };
}

/** A JMESPath string literal (JSON in backticks), for a query inside single quotes. */
const literal = (text: string) => `\`${JSON.stringify(text)}\``;
const tagValue = (key: string) => `Tags[?Key==${literal(key)}]|[0].Value`;

/**
 * The filter and query of the snapshots listing, newest 20 first: this tool's snapshots (CreatedBy); under DLM also
 * DLM's (the policy's CreatedByPolicy tag; run-now snapshots are the script's own), with a column saying which.
 */
function snapshotListing(isDlm: boolean): string[] {
    const columns = ["StartTime", "SnapshotId", "VolumeId", "State", tagValue("InstanceId"), tagValue("RunId")];
    if (!isDlm) {
        return [
            `--filters Name=tag:${CREATED_BY_TAG.key},Values=${CREATED_BY_TAG.value}`,
            `--query 'reverse(sort_by(Snapshots,&StartTime))[:20].[${columns.join(",")}]' --output table`,
        ];
    }
    const ours = `Snapshots[?Tags[?(Key==${literal(LIFECYCLE_POLICY_TAG.key)} || Key==${literal(CREATED_BY_TAG.key)}) && Value==${literal(CREATED_BY_TAG.value)}]]`;
    return [
        `--filters Name=tag-key,Values=${LIFECYCLE_POLICY_TAG.key},${CREATED_BY_TAG.key}`,
        `--query 'reverse(sort_by(${ours},&StartTime))[:20].[${[...columns, tagValue("dlm:managed")].join(",")}]' --output table`,
    ];
}

/** Words of a shell command, some of them outputs, joined with spaces. */
function shellCommand(words: pulumi.Input<string>[]): pulumi.Output<string> {
    return pulumi.all(words).apply((w) => w.join(" "));
}
