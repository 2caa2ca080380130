// Composes the components from validated stack configuration. Kept apart from index.ts so that tests can
// build the stack once per configuration.
import { loadStackConfig, MysqlHost, Network, SnapshotDocument, SnapshotMaintenanceWindow, StackConfig } from "./components";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { CREATED_BY_TAG } from "./components/policies";

export interface StackOutputs {
    maintenanceWindowId: pulumi.Output<string>;
    maintenanceWindowRoleArn: pulumi.Output<string>;
    documentNames: pulumi.Output<string[]>;
    targetIds: pulumi.Output<Record<string, string>>;
    logGroupName: pulumi.Output<string>;
    instancePolicyArn: pulumi.Output<string>;
    alertTopicArn?: pulumi.Output<string>;
    /** Shell commands for operators: run the main target now, see recent runs, list the snapshots. */
    runNowCommand: pulumi.Output<string>;
    historyCommand: pulumi.Output<string>;
    snapshotsCommand: pulumi.Output<string>;
    vpcId?: pulumi.Output<string>;
    instanceId?: pulumi.Output<string>;
    dataVolumeId?: pulumi.Output<string>;
}

/** The name of the main target and its task. */
export const MAIN_TARGET_NAME = "main";

export function createStack(config: StackConfig = loadStackConfig()): StackOutputs {
    const tags = { Project: "consistent-snapshots", Stack: pulumi.getStack() };
    const document = new SnapshotDocument("consistent-snapshot", { tags });

    const window = new SnapshotMaintenanceWindow("snapshots", {
        schedule: config.schedule,
        scheduleTimezone: config.scheduleTimezone,
        duration: config.duration,
        cutoff: config.cutoff,
        enabled: config.enabled,
        tagKey: config.tagKey,
        logRetentionDays: config.logRetentionDays,
        commandTimeoutSeconds: config.commandTimeoutSeconds,
        targets: [
            {
                name: MAIN_TARGET_NAME, tagValue: config.tagValue, document,
                maxConcurrency: config.maxConcurrency, maxErrors: config.maxErrors, parameters: config.snapshotParameters,
            },
            ...config.extraTargets.map((t, i) => ({
                name: `extra-${i + 1}`, tagValue: t.tagValue, document, priority: 2 + i,
                maxConcurrency: t.maxConcurrency, maxErrors: t.maxErrors, parameters: t.parameters,
            })),
        ],
        alertTopicArn: config.alertTopicArn || undefined,
        alertEmail: config.alertEmail || undefined,
        tags,
    });

    const region = aws.getRegionOutput().region;
    const parameters = Object.keys(config.snapshotParameters).length > 0
        ? [`--parameters '${JSON.stringify(Object.fromEntries(Object.entries(config.snapshotParameters).map(([k, v]) => [k, [v]])))}'`]
        : [];
    const outputs: StackOutputs = {
        maintenanceWindowId: window.maintenanceWindowId,
        maintenanceWindowRoleArn: window.maintenanceWindowRoleArn,
        documentNames: pulumi.all([document.documentName]),
        targetIds: window.targetIds,
        logGroupName: window.logGroupName,
        instancePolicyArn: window.instancePolicyArn,
        alertTopicArn: window.alertTopicArn,
        runNowCommand: shellCommand(["aws ssm send-command --region", region, "--document-name", document.documentName,
            `--targets 'Key=tag:${config.tagKey},Values=${config.tagValue}'`, "--max-concurrency", config.maxConcurrency,
            "--max-errors", config.maxErrors, ...parameters, "--comment 'consistent-snapshots run now'",
            pulumi.interpolate`--cloud-watch-output-config CloudWatchOutputEnabled=true,CloudWatchLogGroupName=${window.logGroupName}`]),
        historyCommand: shellCommand(["aws ssm describe-maintenance-window-executions --region", region,
            "--window-id", window.maintenanceWindowId, "--max-results 10 && aws ssm list-commands --region", region,
            pulumi.interpolate`--filters key=DocumentName,value=${document.documentName}`, "--max-results 10",
            "--query 'Commands[].[RequestedDateTime,CommandId,Status,CompletedCount,ErrorCount]' --output table"]),
        snapshotsCommand: shellCommand(["aws ec2 describe-snapshots --region", region, "--owner-ids self",
            `--filters Name=tag:${CREATED_BY_TAG.key},Values=${CREATED_BY_TAG.value}`,
            "--query 'reverse(sort_by(Snapshots,&StartTime))[:20].[StartTime,SnapshotId,VolumeId,State," +
            "Tags[?Key==`InstanceId`]|[0].Value,Tags[?Key==`RunId`]|[0].Value]' --output table"]),
    };

    if (config.createDemoHost) {
        const network = new Network("network", { mode: config.networkMode, tags });
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
            logGroupArn: window.logGroupArn,
            tags,
        });
        outputs.vpcId = network.vpcId;
        outputs.instanceId = host.instanceId;
        outputs.dataVolumeId = host.dataVolumeId;
    }
    return outputs;
}

/** Words of a shell command, some of them outputs, joined with spaces. */
function shellCommand(words: pulumi.Input<string>[]): pulumi.Output<string> {
    return pulumi.all(words).apply((w) => w.join(" "));
}
