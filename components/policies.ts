// IAM policy documents shared by the components: what the snapshot script may call from an instance, and
// what the maintenance window's service role may do. Every statement names its actions (no wildcards) and
// is scoped by resource ARN and condition as far as EC2 and SSM allow.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { CREATED_BY_TAG, INSTANCE_ID_TAG_KEY, LIFECYCLE_POLICY_TAG, RESTORED_FROM_RUN_TAG_KEY } from "./snapshotTags";

export interface PolicyStatement {
    Sid: string;
    Effect: "Allow" | "Deny";
    Action: string[];
    Resource: string | string[];
    Condition?: Record<string, Record<string, string | string[]>>;
}
export interface PolicyDocument {
    Version: "2012-10-17";
    Statement: PolicyStatement[];
}

export interface AccountContext {
    partition: string;
    region: string;
    accountId: string;
}

export interface InstancePolicyScope {
    /** Exact instance ARNs allowed to be snapshotted; when absent, instances carrying the target tag. */
    instanceArns?: string[];
    tagKey: string;
    tagValues: string[];
    /** Log group receiving Run Command output (the agent writes it with the instance's credentials). */
    logGroupArn?: string;
    /**
     * The instance runs Data Lifecycle Manager's post-script, which tags the snapshots DLM created (tagged
     * `dlm:managed=true`) with the position read under the lock: allow exactly that.
     */
    tagLifecyclePolicySnapshots?: boolean;
}

/** How many tags a GTID set may span (GTID_TAG_PARTS in scripts/consistent-snapshot.sh). */
export const GTID_TAG_PARTS = 8;

/**
 * The tags the post-script adds to DLM's snapshots (scripts/consistent-snapshot.sh, tag_held_snapshots). Not
 * `InstanceId`: DLM writes it (the policy's variable tag `$(instance-id)`), and IAM keys each host's rights on it.
 */
export const POST_SCRIPT_TAG_KEYS = [
    "RunId",
    "ConsistencyMethod",
    "DlmExecutionId",
    "FrozenMounts",
    "UnfrozenMounts",
    "VolumeCount",
    "BinlogFile",
    "BinlogPosition",
    ...gtidTagKeys("GtidBinlogPos"),
    "ReplicationSourceLogFile",
    "ReplicationSourceLogPos",
    "ReplicationChannels",
    ...gtidTagKeys("ReplicationGtidPos"),
] as const;

/**
 * The tags a GTID set goes into (scripts/consistent-snapshot.sh, gtid_tags): `key`, then `key2`..`key8` for a set
 * longer than a tag value's 256 characters, and `keyCut` when even that was too short.
 */
export function gtidTagKeys(key: string): string[] {
    return [key, ...Array.from({ length: GTID_TAG_PARTS - 1 }, (_, i) => `${key}${i + 2}`), `${key}Cut`];
}

/**
 * Ties a request to the instance that makes it. Requests signed with an instance profile's credentials carry
 * `ec2:SourceInstanceARN` (the calling instance); the condition holds only when it is the instance whose id
 * `idVariable` resolves to in the request (a policy variable: the instance resource's `ec2:InstanceID`, a tag
 * in the request or on the resource). An unresolved variable (no such tag) fails the condition: denied.
 */
function fromInstance(ctx: AccountContext, idVariable: string): Record<string, Record<string, string>> {
    return { ArnEquals: { "ec2:SourceInstanceARN": `arn:${ctx.partition}:ec2:${ctx.region}:${ctx.accountId}:instance/\${${idVariable}}` } };
}

/**
 * What scripts/consistent-snapshot.sh calls, and nothing else; each host only for itself: it snapshots only
 * its own instance, creates snapshots only tagged as its own (`InstanceId` = itself, `CreatedBy`), and deletes
 * or (post-script) tags only snapshots tagged as its own.
 */
export function snapshotInstancePolicy(ctx: AccountContext, scope: InstancePolicyScope): PolicyDocument {
    const ec2 = (resource: string, account = ctx.accountId) => `arn:${ctx.partition}:ec2:${ctx.region}:${account}:${resource}`;
    const statements: PolicyStatement[] = [
        {
            // DescribeInstances supports no resource-level permissions; it is limited to the region.
            Sid: "DescribeOwnVolumes",
            Effect: "Allow",
            Action: ["ec2:DescribeInstances"],
            Resource: "*",
            Condition: { StringEquals: { "aws:RequestedRegion": ctx.region } },
        },
        scope.instanceArns
            ? {
                  Sid: "SnapshotThisInstance",
                  Effect: "Allow",
                  Action: ["ec2:CreateSnapshots"],
                  Resource: scope.instanceArns,
                  Condition: fromInstance(ctx, "ec2:InstanceID"),
              }
            : {
                  // A tagged instance, and only the one making the request.
                  Sid: "SnapshotTaggedInstances",
                  Effect: "Allow",
                  Action: ["ec2:CreateSnapshots"],
                  Resource: ec2("instance/*"),
                  Condition: { StringEquals: { [`aws:ResourceTag/${scope.tagKey}`]: scope.tagValues }, ...fromInstance(ctx, "ec2:InstanceID") },
              },
        { Sid: "SnapshotItsVolumes", Effect: "Allow", Action: ["ec2:CreateSnapshots"], Resource: ec2("volume/*") },
        {
            // Snapshots may only be created carrying the creator tag and the caller's own instance id (tags are
            // applied on create): a host cannot make snapshots that another host's retention would count as its own.
            Sid: "CreateTaggedSnapshots",
            Effect: "Allow",
            Action: ["ec2:CreateSnapshots"],
            Resource: ec2("snapshot/*", ""),
            Condition: {
                StringEquals: { [`aws:RequestTag/${CREATED_BY_TAG.key}`]: CREATED_BY_TAG.value },
                ...fromInstance(ctx, `aws:RequestTag/${INSTANCE_ID_TAG_KEY}`),
            },
        },
        {
            Sid: "TagOnlyOnCreate",
            Effect: "Allow",
            Action: ["ec2:CreateTags"],
            Resource: ec2("snapshot/*", ""),
            Condition: { StringEquals: { "ec2:CreateAction": "CreateSnapshots" } },
        },
    ];
    statements.push(
        {
            // Retention: list this tool's snapshots (no resource-level permissions for Describe*)...
            Sid: "ListSnapshots",
            Effect: "Allow",
            Action: ["ec2:DescribeSnapshots"],
            Resource: "*",
            Condition: { StringEquals: { "aws:RequestedRegion": ctx.region } },
        },
        {
            // ...and delete only snapshots carrying the creator tag and its own instance id.
            Sid: "DeleteOwnSnapshots",
            Effect: "Allow",
            Action: ["ec2:DeleteSnapshot"],
            Resource: ec2("snapshot/*", ""),
            Condition: {
                StringEquals: { [`aws:ResourceTag/${CREATED_BY_TAG.key}`]: CREATED_BY_TAG.value },
                ...fromInstance(ctx, `aws:ResourceTag/${INSTANCE_ID_TAG_KEY}`),
            },
        },
    );
    if (scope.tagLifecyclePolicySnapshots) {
        statements.push({
            Sid: "TagLifecyclePolicySnapshots",
            Effect: "Allow",
            Action: ["ec2:CreateTags"],
            Resource: ec2("snapshot/*", ""),
            Condition: {
                StringEquals: { "aws:ResourceTag/dlm:managed": "true" },
                "ForAllValues:StringEquals": { "aws:TagKeys": [...POST_SCRIPT_TAG_KEYS] },
                ...fromInstance(ctx, `aws:ResourceTag/${INSTANCE_ID_TAG_KEY}`),
            },
        });
    }
    if (scope.logGroupArn) {
        // The SSM Agent uploads Run Command output itself: CreateLogGroup first (ResourceAlreadyExists is
        // expected; on any other error it falls back to DescribeLogGroups), then CreateLogStream,
        // DescribeLogStreams and PutLogEvents (amazon-ssm-agent, cloudwatchlogsservice.go).
        statements.push(
            {
                Sid: "WriteRunCommandOutput",
                Effect: "Allow",
                Action: ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                Resource: [scope.logGroupArn, `${scope.logGroupArn}:log-stream:*`],
            },
            {
                Sid: "FindLogGroup",
                Effect: "Allow",
                Action: ["logs:DescribeLogGroups"],
                Resource: `arn:${ctx.partition}:logs:${ctx.region}:${ctx.accountId}:log-group:*`,
            },
        );
    }
    return { Version: "2012-10-17", Statement: statements };
}

/**
 * What the snapshot script calls on a host Data Lifecycle Manager snapshots: the pre/post script (describe its
 * volumes, find and tag DLM's snapshots of itself), and a snapshot run an operator starts (run now: create and
 * prune its own snapshots), each only for the host itself.
 */
export function lifecyclePolicyInstancePolicy(ctx: AccountContext, scope: { tagKey: string; tagValues: string[] }): PolicyDocument {
    return snapshotInstancePolicy(ctx, { ...scope, tagLifecyclePolicySnapshots: true });
}

export interface WindowRoleScope {
    documentArns: string[];
    tagKey: string;
    tagValues: string[];
}

/** The maintenance window's service role: send these documents to instances with these tags, follow the commands. */
export function maintenanceWindowRolePolicy(ctx: AccountContext, scope: WindowRoleScope): PolicyDocument {
    return {
        Version: "2012-10-17",
        Statement: [
            { Sid: "SendSnapshotDocuments", Effect: "Allow", Action: ["ssm:SendCommand"], Resource: scope.documentArns },
            {
                Sid: "ToTaggedInstancesOnly",
                Effect: "Allow",
                Action: ["ssm:SendCommand"],
                Resource: `arn:${ctx.partition}:ec2:${ctx.region}:${ctx.accountId}:instance/*`,
                Condition: { StringEquals: { [`ssm:resourceTag/${scope.tagKey}`]: scope.tagValues } },
            },
            {
                // These SSM read/cancel actions support no resource-level permissions.
                Sid: "FollowCommands",
                Effect: "Allow",
                Action: ["ssm:ListCommands", "ssm:ListCommandInvocations", "ssm:GetCommandInvocation", "ssm:CancelCommand"],
                Resource: "*",
            },
        ],
    };
}

/**
 * Trust policy for a service role; with `accountId`, the confused-deputy guard on the account (only for services
 * AWS documents to set `aws:SourceAccount` when they assume the role, such as ssm.amazonaws.com).
 */
export function serviceTrustPolicy(service: string, accountId?: string): string {
    return JSON.stringify({
        Version: "2012-10-17",
        Statement: [
            {
                Effect: "Allow",
                Principal: { Service: service },
                Action: "sts:AssumeRole",
                ...(accountId ? { Condition: { StringEquals: { "aws:SourceAccount": accountId } } } : {}),
            },
        ],
    });
}

/** The current partition, region and account, as outputs (invokes, so they also work under mocks). */
export function accountContext(parent: pulumi.Resource): pulumi.Output<AccountContext> {
    const opts = { parent };
    return pulumi
        .all([aws.getPartitionOutput({}, opts), aws.getRegionOutput({}, opts), aws.getCallerIdentityOutput({}, opts)])
        .apply(([partition, region, identity]) => ({
            partition: partition.partition,
            region: region.region,
            accountId: identity.accountId,
        }));
}

/** The tag a restore drill puts on what it launches (its value: the drill's name); IAM keys termination on it. */
export const DRILL_TAG_KEY = "ConsistentSnapshotsDrill";
/** The tag naming the Automation execution that launched a drill instance (clean-up finds its instances by it). */
export const DRILL_EXECUTION_TAG_KEY = "RestoreDrillExecution";
/** The tags a drill writes on the snapshots it restored, and nothing else. */
export const DRILL_RESULT_TAG_KEYS = ["RestoreVerifiedAt", "RestoreResult", DRILL_EXECUTION_TAG_KEY] as const;

export interface DrillRoleScope {
    drillName: string;
    launchTemplateArn: string;
    subnetArn: string;
    securityGroupArn: string;
    instanceRoleArn: string;
    verifyDocumentArn: string;
    metricNamespace: string;
}

/**
 * The restore drill's Automation role: read instances and snapshots; launch only from the drill's launch template,
 * into its subnet and security group, volumes only from this tool's snapshots, everything tagged as the drill's on
 * create; run only the verify document, only on the drill's instances; tag this tool's snapshots only with the
 * result keys; terminate only the drill's instances; count results in its own metric namespace. Encrypted volumes
 * need the EBS key's grants, through EC2 only.
 */
export function restoreDrillAutomationPolicy(ctx: AccountContext, scope: DrillRoleScope): PolicyDocument {
    const ec2 = (resource: string, account = ctx.accountId) => `arn:${ctx.partition}:ec2:${ctx.region}:${account}:${resource}`;
    const drillTagged = { StringEquals: { [`aws:ResourceTag/${DRILL_TAG_KEY}`]: scope.drillName } };
    const creators = [
        ["ThisTools", CREATED_BY_TAG],
        ["LifecyclePolicy", LIFECYCLE_POLICY_TAG],
    ] as const;
    return {
        Version: "2012-10-17",
        Statement: [
            {
                // Describe* support no resource-level permissions.
                Sid: "FindSnapshotSets",
                Effect: "Allow",
                Action: ["ec2:DescribeInstances", "ec2:DescribeSnapshots"],
                Resource: "*",
                Condition: { StringEquals: { "aws:RequestedRegion": ctx.region } },
            },
            {
                Sid: "LaunchFromTheDrillTemplate",
                Effect: "Allow",
                Action: ["ec2:RunInstances"],
                Resource: ec2("instance/*"),
                Condition: {
                    ArnEquals: { "ec2:LaunchTemplate": scope.launchTemplateArn },
                    StringEquals: { [`aws:RequestTag/${DRILL_TAG_KEY}`]: scope.drillName },
                },
            },
            {
                Sid: "LaunchWithItsParts",
                Effect: "Allow",
                Action: ["ec2:RunInstances"],
                Resource: [scope.launchTemplateArn, scope.subnetArn, scope.securityGroupArn, ec2("network-interface/*"), ec2("volume/*"), ec2("image/*", "")],
            },
            // A snapshot is this tool's when the script (CreatedBy) or the stack's DLM policy (CreatedByPolicy) tagged it.
            ...creators.map(([sid, tag]): PolicyStatement => ({
                Sid: `Restore${sid}Snapshots`,
                Effect: "Allow",
                Action: ["ec2:RunInstances"],
                Resource: ec2("snapshot/*", ""),
                Condition: { StringEquals: { [`aws:ResourceTag/${tag.key}`]: tag.value } },
            })),
            {
                Sid: "TagWhatItLaunches",
                Effect: "Allow",
                Action: ["ec2:CreateTags"],
                Resource: [ec2("instance/*"), ec2("volume/*")],
                Condition: { StringEquals: { "ec2:CreateAction": "RunInstances" } },
            },
            {
                Sid: "PassTheDrillInstanceRole",
                Effect: "Allow",
                Action: ["iam:PassRole"],
                Resource: scope.instanceRoleArn,
                Condition: { StringEquals: { "iam:PassedToService": "ec2.amazonaws.com" } },
            },
            ...creators.map(([sid, tag]): PolicyStatement => ({
                Sid: `RecordResultOn${sid}Snapshots`,
                Effect: "Allow",
                Action: ["ec2:CreateTags"],
                Resource: ec2("snapshot/*", ""),
                Condition: {
                    StringEquals: { [`aws:ResourceTag/${tag.key}`]: tag.value },
                    "ForAllValues:StringEquals": { "aws:TagKeys": [...DRILL_RESULT_TAG_KEYS] },
                },
            })),
            { Sid: "TerminateDrillInstancesOnly", Effect: "Allow", Action: ["ec2:TerminateInstances"], Resource: ec2("instance/*"), Condition: drillTagged },
            { Sid: "RunTheVerifyDocument", Effect: "Allow", Action: ["ssm:SendCommand"], Resource: scope.verifyDocumentArn },
            {
                Sid: "OnDrillInstancesOnly",
                Effect: "Allow",
                Action: ["ssm:SendCommand"],
                Resource: ec2("instance/*"),
                Condition: { StringEquals: { [`ssm:resourceTag/${DRILL_TAG_KEY}`]: scope.drillName } },
            },
            {
                // These SSM read actions support no resource-level permissions.
                Sid: "FollowTheDrill",
                Effect: "Allow",
                Action: ["ssm:DescribeInstanceInformation", "ssm:ListCommands", "ssm:ListCommandInvocations", "ssm:GetCommandInvocation"],
                Resource: "*",
            },
            {
                Sid: "CountResults",
                Effect: "Allow",
                Action: ["cloudwatch:PutMetricData"],
                Resource: "*",
                Condition: { StringEquals: { "cloudwatch:namespace": scope.metricNamespace } },
            },
            {
                Sid: "EncryptedVolumesThroughEc2",
                Effect: "Allow",
                Action: ["kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo"],
                Resource: "*",
                Condition: { StringEquals: { "kms:ViaService": `ec2.${ctx.region}.amazonaws.com` } },
            },
        ],
    };
}

/** The drill instance's role: what the SSM Agent needs to take Run Command, and nothing else (no EC2, no S3). */
export function restoreDrillInstancePolicy(): PolicyDocument {
    return {
        Version: "2012-10-17",
        Statement: [
            {
                // The agent's own calls (AmazonSSMManagedInstanceCore's Run Command subset); none has resource-level permissions.
                Sid: "SsmAgentRunCommand",
                Effect: "Allow",
                Action: [
                    "ssm:UpdateInstanceInformation",
                    "ssm:ListInstanceAssociations",
                    "ssmmessages:CreateControlChannel",
                    "ssmmessages:CreateDataChannel",
                    "ssmmessages:OpenControlChannel",
                    "ssmmessages:OpenDataChannel",
                    "ec2messages:AcknowledgeMessage",
                    "ec2messages:DeleteMessage",
                    "ec2messages:FailMessage",
                    "ec2messages:GetEndpoint",
                    "ec2messages:GetMessages",
                    "ec2messages:SendReply",
                ],
                Resource: "*",
            },
        ],
    };
}

/** EventBridge Scheduler's role for a drill: start this runbook, and pass it its Automation role. */
export function restoreDrillSchedulerPolicy(ctx: AccountContext, scope: { automationDocumentName: string; automationRoleArn: string }): PolicyDocument {
    return {
        Version: "2012-10-17",
        Statement: [
            {
                Sid: "StartTheDrill",
                Effect: "Allow",
                Action: ["ssm:StartAutomationExecution"],
                Resource: `arn:${ctx.partition}:ssm:${ctx.region}:${ctx.accountId}:automation-definition/${scope.automationDocumentName}:*`,
            },
            {
                Sid: "PassItsRole",
                Effect: "Allow",
                Action: ["iam:PassRole"],
                Resource: scope.automationRoleArn,
                Condition: { StringEquals: { "iam:PassedToService": "ssm.amazonaws.com" } },
            },
        ],
    };
}

export interface OperatorPolicyScope {
    /** The snapshot documents (run-now). */
    documentArns: string[];
    tagKey: string;
    tagValues: string[];
    /** The restore-drill runbooks (verify) and the Automation roles they run as. */
    drillDocumentNames: string[];
    drillRoleArns: string[];
}

/**
 * What the person on call needs for the operator CLI, and no more: read runs and snapshots; run the snapshot
 * documents now on the targeted instances only; restore (volumes only from this tool's snapshots, tagged as
 * restores on create; attach and delete only such volumes, never a source volume); start the restore drills.
 */
export function operatorPolicy(ctx: AccountContext, scope: OperatorPolicyScope): PolicyDocument {
    const ec2 = (resource: string, account = ctx.accountId) => `arn:${ctx.partition}:ec2:${ctx.region}:${account}:${resource}`;
    const restored = { Null: { [`aws:ResourceTag/${RESTORED_FROM_RUN_TAG_KEY}`]: "false" } };
    const statements: PolicyStatement[] = [
        {
            // Describe*, List* and Get* of commands and executions support no resource-level permissions.
            Sid: "ReadRunsAndSnapshots",
            Effect: "Allow",
            Action: [
                "ec2:DescribeInstances",
                "ec2:DescribeSnapshots",
                "ec2:DescribeVolumes",
                "ssm:ListCommands",
                "ssm:ListCommandInvocations",
                "ssm:GetCommandInvocation",
                "ssm:GetAutomationExecution",
            ],
            Resource: "*",
        },
        { Sid: "RunNowTheSnapshotDocuments", Effect: "Allow", Action: ["ssm:SendCommand"], Resource: scope.documentArns },
        {
            Sid: "OnTargetedInstancesOnly",
            Effect: "Allow",
            Action: ["ssm:SendCommand"],
            Resource: ec2("instance/*"),
            Condition: { StringEquals: { [`ssm:resourceTag/${scope.tagKey}`]: scope.tagValues } },
        },
        ...[CREATED_BY_TAG, LIFECYCLE_POLICY_TAG].map((tag, i): PolicyStatement => ({
            Sid: i === 0 ? "RestoreFromThisToolsSnapshots" : "RestoreFromLifecyclePolicySnapshots",
            Effect: "Allow",
            Action: ["ec2:CreateVolume"],
            Resource: ec2("snapshot/*", ""),
            Condition: { StringEquals: { [`aws:ResourceTag/${tag.key}`]: tag.value } },
        })),
        {
            Sid: "CreateRestoreVolumes",
            Effect: "Allow",
            Action: ["ec2:CreateVolume"],
            Resource: ec2("volume/*"),
            Condition: { Null: { [`aws:RequestTag/${RESTORED_FROM_RUN_TAG_KEY}`]: "false" } },
        },
        {
            Sid: "TagThemOnCreate",
            Effect: "Allow",
            Action: ["ec2:CreateTags"],
            Resource: ec2("volume/*"),
            Condition: { StringEquals: { "ec2:CreateAction": "CreateVolume" } },
        },
        {
            Sid: "AttachAndDeleteRestoreVolumesOnly",
            Effect: "Allow",
            Action: ["ec2:AttachVolume", "ec2:DeleteVolume"],
            Resource: ec2("volume/*"),
            Condition: restored,
        },
        { Sid: "AttachToAnInstance", Effect: "Allow", Action: ["ec2:AttachVolume"], Resource: ec2("instance/*") },
    ];
    if (scope.drillDocumentNames.length > 0) {
        statements.push(
            {
                Sid: "StartRestoreDrills",
                Effect: "Allow",
                Action: ["ssm:StartAutomationExecution"],
                Resource: scope.drillDocumentNames.map((n) => `arn:${ctx.partition}:ssm:${ctx.region}:${ctx.accountId}:automation-definition/${n}:*`),
            },
            {
                Sid: "PassTheirRoles",
                Effect: "Allow",
                Action: ["iam:PassRole"],
                Resource: scope.drillRoleArns,
                Condition: { StringEquals: { "iam:PassedToService": "ssm.amazonaws.com" } },
            },
        );
    }
    return { Version: "2012-10-17", Statement: statements };
}
