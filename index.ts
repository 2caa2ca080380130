// Stack entry point: `pulumi up` reads the stack's config (validated before any resource is declared),
// composes the components and exports what operators need.
import { createStack } from "./stack";

const stack = createStack();

export const maintenanceWindowId = stack.maintenanceWindowId;
export const maintenanceWindowRoleArn = stack.maintenanceWindowRoleArn;
export const lifecyclePolicyId = stack.lifecyclePolicyId;
export const lifecyclePolicyRoleArn = stack.lifecyclePolicyRoleArn;
export const documentNames = stack.documentNames;
export const targetIds = stack.targetIds;
export const logGroupName = stack.logGroupName;
export const instancePolicyArn = stack.instancePolicyArn;
export const alertTopicArn = stack.alertTopicArn;
export const freshnessAlarmArns = stack.freshnessAlarmArns;
export const runNowSettings = stack.runNowSettings;
export const runNowCommand = stack.runNowCommand;
export const historyCommand = stack.historyCommand;
export const snapshotsCommand = stack.snapshotsCommand;
export const operatorPolicyArn = stack.operatorPolicyArn;
export const restoreDrillDocumentName = stack.restoreDrillDocumentName;
export const vpcId = stack.vpcId;
export const instanceId = stack.instanceId;
export const dataVolumeId = stack.dataVolumeId;
