// Composes the components from validated stack configuration. Kept apart from index.ts so that tests can
// build the stack once per configuration.
import { loadStackConfig, MysqlHost, Network, SnapshotDocument, SnapshotMaintenanceWindow, StackConfig } from "./components";
import * as pulumi from "@pulumi/pulumi";

export interface StackOutputs {
    maintenanceWindowId: pulumi.Output<string>;
    maintenanceWindowRoleArn: pulumi.Output<string>;
    documentNames: pulumi.Output<string[]>;
    targetIds: pulumi.Output<Record<string, string>>;
    logGroupName: pulumi.Output<string>;
    instancePolicyArn: pulumi.Output<string>;
    vpcId?: pulumi.Output<string>;
    instanceId?: pulumi.Output<string>;
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
        tags,
    });

    const outputs: StackOutputs = {
        maintenanceWindowId: window.maintenanceWindowId,
        maintenanceWindowRoleArn: window.maintenanceWindowRoleArn,
        documentNames: pulumi.all([document.documentName]),
        targetIds: window.targetIds,
        logGroupName: window.logGroupName,
        instancePolicyArn: window.instancePolicyArn,
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
            logGroupArn: window.logGroupArn,
            tags,
        });
        outputs.vpcId = network.vpcId;
        outputs.instanceId = host.instanceId;
    }
    return outputs;
}
