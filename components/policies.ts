// IAM policy documents shared by the components: what the snapshot script may call from an instance, and
// what the maintenance window's service role may do. Every statement names its actions (no wildcards) and
// is scoped by resource ARN and condition as far as EC2 and SSM allow.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

/** The tag the snapshot script puts on every snapshot it creates; IAM keys on it. */
export const CREATED_BY_TAG = { key: "CreatedBy", value: "consistent-snapshots" } as const;

export interface PolicyStatement {
    Sid: string;
    Effect: "Allow" | "Deny";
    Action: string[];
    Resource: string | string[];
    Condition?: Record<string, Record<string, string | string[]>>;
}
export interface PolicyDocument { Version: "2012-10-17"; Statement: PolicyStatement[] }

export interface AccountContext { partition: string; region: string; accountId: string }

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

/** The tags the post-script adds to DLM's snapshots (scripts/consistent-snapshot.sh, tag_held_snapshots). */
export const POST_SCRIPT_TAG_KEYS = ["RunId", "ConsistencyMethod", "DlmExecutionId", "InstanceId", "FrozenMounts", "UnfrozenMounts",
    "BinlogFile", "BinlogPosition", "GtidBinlogPos"] as const;

/** What scripts/consistent-snapshot.sh calls, and nothing else. */
export function snapshotInstancePolicy(ctx: AccountContext, scope: InstancePolicyScope): PolicyDocument {
    const ec2 = (resource: string, account = ctx.accountId) => `arn:${ctx.partition}:ec2:${ctx.region}:${account}:${resource}`;
    const statements: PolicyStatement[] = [
        {
            // DescribeInstances supports no resource-level permissions; it is limited to the region.
            Sid: "DescribeOwnVolumes", Effect: "Allow", Action: ["ec2:DescribeInstances"], Resource: "*",
            Condition: { StringEquals: { "aws:RequestedRegion": ctx.region } },
        },
        scope.instanceArns
            ? { Sid: "SnapshotThisInstance", Effect: "Allow", Action: ["ec2:CreateSnapshots"], Resource: scope.instanceArns }
            : {
                Sid: "SnapshotTaggedInstances", Effect: "Allow", Action: ["ec2:CreateSnapshots"], Resource: ec2("instance/*"),
                Condition: { StringEquals: { [`aws:ResourceTag/${scope.tagKey}`]: scope.tagValues } },
            },
        { Sid: "SnapshotItsVolumes", Effect: "Allow", Action: ["ec2:CreateSnapshots"], Resource: ec2("volume/*") },
        {
            // Snapshots may only be created carrying the creator tag (tags are applied on create).
            Sid: "CreateTaggedSnapshots", Effect: "Allow", Action: ["ec2:CreateSnapshots"], Resource: ec2("snapshot/*", ""),
            Condition: { StringEquals: { [`aws:RequestTag/${CREATED_BY_TAG.key}`]: CREATED_BY_TAG.value } },
        },
        {
            Sid: "TagOnlyOnCreate", Effect: "Allow", Action: ["ec2:CreateTags"], Resource: ec2("snapshot/*", ""),
            Condition: { StringEquals: { "ec2:CreateAction": "CreateSnapshots" } },
        },
    ];
    statements.push({
        // Retention: list this tool's snapshots (no resource-level permissions for Describe*)...
        Sid: "ListSnapshots", Effect: "Allow", Action: ["ec2:DescribeSnapshots"], Resource: "*",
        Condition: { StringEquals: { "aws:RequestedRegion": ctx.region } },
    }, {
        // ...and delete only snapshots carrying the creator tag.
        Sid: "DeleteOwnSnapshots", Effect: "Allow", Action: ["ec2:DeleteSnapshot"], Resource: ec2("snapshot/*", ""),
        Condition: { StringEquals: { [`aws:ResourceTag/${CREATED_BY_TAG.key}`]: CREATED_BY_TAG.value } },
    });
    if (scope.tagLifecyclePolicySnapshots) {
        statements.push({
            Sid: "TagLifecyclePolicySnapshots", Effect: "Allow", Action: ["ec2:CreateTags"], Resource: ec2("snapshot/*", ""),
            Condition: {
                "StringEquals": { "aws:ResourceTag/dlm:managed": "true" },
                "ForAllValues:StringEquals": { "aws:TagKeys": [...POST_SCRIPT_TAG_KEYS] },
            },
        });
    }
    if (scope.logGroupArn) {
        // The SSM Agent uploads Run Command output itself: CreateLogGroup first (ResourceAlreadyExists is
        // expected; on any other error it falls back to DescribeLogGroups), then CreateLogStream,
        // DescribeLogStreams and PutLogEvents (amazon-ssm-agent, cloudwatchlogsservice.go).
        statements.push({
            Sid: "WriteRunCommandOutput", Effect: "Allow",
            Action: ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            Resource: [scope.logGroupArn, `${scope.logGroupArn}:log-stream:*`],
        }, {
            Sid: "FindLogGroup", Effect: "Allow", Action: ["logs:DescribeLogGroups"],
            Resource: `arn:${ctx.partition}:logs:${ctx.region}:${ctx.accountId}:log-group:*`,
        });
    }
    return { Version: "2012-10-17", Statement: statements };
}

/**
 * What the snapshot script calls on a host Data Lifecycle Manager snapshots (pre/post script): it describes its
 * volumes and finds and tags DLM's snapshots; it creates and deletes none.
 */
export function lifecyclePolicyInstancePolicy(ctx: AccountContext): PolicyDocument {
    const full = snapshotInstancePolicy(ctx, { tagKey: "unused", tagValues: [], tagLifecyclePolicySnapshots: true });
    return {
        Version: "2012-10-17",
        Statement: full.Statement.filter((s) => ["DescribeOwnVolumes", "ListSnapshots", "TagLifecyclePolicySnapshots"].includes(s.Sid)),
    };
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
                Sid: "ToTaggedInstancesOnly", Effect: "Allow", Action: ["ssm:SendCommand"],
                Resource: `arn:${ctx.partition}:ec2:${ctx.region}:${ctx.accountId}:instance/*`,
                Condition: { StringEquals: { [`ssm:resourceTag/${scope.tagKey}`]: scope.tagValues } },
            },
            {
                // These SSM read/cancel actions support no resource-level permissions.
                Sid: "FollowCommands", Effect: "Allow",
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
        Statement: [{
            Effect: "Allow", Principal: { Service: service }, Action: "sts:AssumeRole",
            ...(accountId ? { Condition: { StringEquals: { "aws:SourceAccount": accountId } } } : {}),
        }],
    });
}

/** The current partition, region and account, as outputs (invokes, so they also work under mocks). */
export function accountContext(parent: pulumi.Resource): pulumi.Output<AccountContext> {
    const opts = { parent };
    return pulumi.all([
        aws.getPartitionOutput({}, opts), aws.getRegionOutput({}, opts), aws.getCallerIdentityOutput({}, opts),
    ]).apply(([partition, region, identity]) => ({
        partition: partition.partition, region: region.region, accountId: identity.accountId,
    }));
}
