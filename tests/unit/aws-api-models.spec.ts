// The program against AWS's own API models, not only our assertions: every resource the stack registers is
// mapped onto the create request AWS receives for it (what the provider sends), and each request is checked
// against the operation's input shape in botocore's service-2.json (tests/unit/awsModels.ts), plus the few
// limits AWS documents outside the models (cited where they are checked). Run over every stack file and
// over edge configs at the limits the config validation admits: either the program refuses a config at
// preview, naming the key, or what it produces is valid.
import * as assert from "node:assert/strict";
import { CONFIG_DEFAULTS, StackConfig, validateStackConfig } from "../../config";
import { SnapshotDocument } from "../../components/snapshotDocument";
import { SnapshotLifecyclePolicy } from "../../components/snapshotLifecyclePolicy";
import { createStack } from "../../stack";
import { RecordedResource, resources, settle, stackFileConfig, useMocks } from "./mocks";
import { Violation, modelsPackage, validateRequest } from "./awsModels";
import { runExample } from "./examples";

/** Ids AWS assigns, in their real forms, for requests that reference another resource. */
const AWS_IDS = { windowId: "mw-0123456789abcdef0", windowTargetId: "e32eecb2-646c-4f4b-8ed1-205fbEXAMPLE" };
/** Pulumi's auto-naming: the resource name, a dash and seven random hex digits. */
const autoName = (r: RecordedResource) => r.inputs.name ?? `${r.name}-1a2b3c4`;
type Tags = Record<string, string> | undefined;
const tagList = (tags: Tags) => (tags && Object.keys(tags).length > 0 ? Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) : undefined);
const ec2TagSpecifications = (resourceType: string, tags: Tags) => {
    const list = tagList(tags);
    return list ? [{ ResourceType: resourceType, Tags: list }] : undefined;
};
const withoutWhitespace = (text: string) => text.replace(/\s/g, "").length;

interface Request {
    service: string;
    operation: string;
    request: Record<string, unknown>;
}
/** Limits AWS documents outside the models: [where, broken?, what the documentation says]. */
type DocumentedLimit = [string, boolean, string];

/** The create request(s) AWS receives for a registered resource, and the documented limits that apply. */
function requestsFor(r: RecordedResource): { requests: Request[]; limits: DocumentedLimit[] } | undefined {
    const i = r.inputs;
    switch (r.type) {
        case "aws:ssm/document:Document":
            return {
                requests: [
                    ...(i.documentType === "Automation" ? runbookStepRequests(JSON.parse(i.content)) : []),
                    {
                        service: "ssm",
                        operation: "CreateDocument",
                        request: {
                            Name: autoName(r),
                            Content: i.content,
                            DocumentType: i.documentType,
                            DocumentFormat: i.documentFormat,
                            TargetType: i.targetType,
                            Tags: tagList(i.tags),
                        },
                    },
                ],
                limits: [
                    // SSM API reference, CreateDocument Content: "must not exceed 64KB" (MaxDocumentSizeExceeded).
                    [
                        `${r.name}.content`,
                        Buffer.byteLength(i.content) > 64 * 1024,
                        `document content is ${Buffer.byteLength(i.content)} bytes; the limit is 64 KB`,
                    ],
                    // SSM API reference, CreateDocument Name: prefixes reserved by AWS.
                    [`${r.name}.name`, /^(aws|amazon|amzn)/i.test(autoName(r)), "document names must not start with AWS, Amazon or amzn"],
                ],
            };
        case "aws:ssm/maintenanceWindow:MaintenanceWindow":
            return {
                requests: [
                    {
                        service: "ssm",
                        operation: "CreateMaintenanceWindow",
                        request: {
                            Name: autoName(r),
                            Description: i.description,
                            Schedule: i.schedule,
                            ScheduleTimezone: i.scheduleTimezone,
                            Duration: i.duration,
                            Cutoff: i.cutoff,
                            AllowUnassociatedTargets: i.allowUnassociatedTargets,
                            Tags: tagList(i.tags),
                        },
                    },
                ],
                limits: [],
            };
        case "aws:ssm/maintenanceWindowTarget:MaintenanceWindowTarget":
            return {
                requests: [
                    {
                        service: "ssm",
                        operation: "RegisterTargetWithMaintenanceWindow",
                        request: {
                            WindowId: AWS_IDS.windowId,
                            ResourceType: i.resourceType,
                            Name: i.name,
                            Description: i.description,
                            OwnerInformation: i.ownerInformation,
                            Targets: i.targets.map((t: { key: string; values: string[] }) => ({ Key: t.key, Values: t.values })),
                        },
                    },
                ],
                limits: [],
            };
        case "aws:ssm/maintenanceWindowTask:MaintenanceWindowTask": {
            const run = i.taskInvocationParameters.runCommandParameters;
            return {
                requests: [
                    {
                        service: "ssm",
                        operation: "RegisterTaskWithMaintenanceWindow",
                        request: {
                            WindowId: AWS_IDS.windowId,
                            Name: i.name,
                            Description: i.description,
                            TaskType: i.taskType,
                            TaskArn: i.taskArn,
                            ServiceRoleArn: i.serviceRoleArn,
                            Priority: i.priority,
                            MaxConcurrency: i.maxConcurrency,
                            MaxErrors: i.maxErrors,
                            CutoffBehavior: i.cutoffBehavior,
                            Targets: i.targets.map((t: { key: string; values: string[] }) => ({
                                Key: t.key,
                                Values: t.values.map(() => AWS_IDS.windowTargetId),
                            })),
                            TaskInvocationParameters: {
                                RunCommand: {
                                    Comment: run.comment,
                                    DocumentVersion: run.documentVersion,
                                    TimeoutSeconds: run.timeoutSeconds,
                                    Parameters: run.parameters?.length
                                        ? Object.fromEntries(run.parameters.map((p: { name: string; values: string[] }) => [p.name, p.values]))
                                        : undefined,
                                    CloudWatchOutputConfig: {
                                        CloudWatchLogGroupName: run.cloudwatchConfig.cloudwatchLogGroupName,
                                        CloudWatchOutputEnabled: run.cloudwatchConfig.cloudwatchOutputEnabled,
                                    },
                                },
                            },
                        },
                    },
                ],
                limits: [],
            };
        }
        case "aws:ec2/instance:Instance": {
            const root = i.rootBlockDevice;
            const network = i.associatePublicIpAddress
                ? { NetworkInterfaces: [{ DeviceIndex: 0, SubnetId: i.subnetId, AssociatePublicIpAddress: true, Groups: i.vpcSecurityGroupIds }] }
                : { SubnetId: i.subnetId, SecurityGroupIds: i.vpcSecurityGroupIds };
            return {
                requests: [
                    {
                        service: "ec2",
                        operation: "RunInstances",
                        request: {
                            ImageId: i.ami,
                            InstanceType: i.instanceType,
                            MinCount: 1,
                            MaxCount: 1,
                            ...network,
                            IamInstanceProfile: { Name: i.iamInstanceProfile },
                            MetadataOptions: {
                                HttpTokens: i.metadataOptions.httpTokens,
                                HttpEndpoint: i.metadataOptions.httpEndpoint,
                                HttpPutResponseHopLimit: i.metadataOptions.httpPutResponseHopLimit,
                                InstanceMetadataTags: i.metadataOptions.instanceMetadataTags,
                            },
                            BlockDeviceMappings: [
                                {
                                    DeviceName: "/dev/xvda",
                                    Ebs: { Encrypted: root.encrypted, KmsKeyId: root.kmsKeyId, VolumeType: root.volumeType, VolumeSize: root.volumeSize },
                                },
                            ],
                            UserData: Buffer.from(i.userData).toString("base64"),
                            TagSpecifications: [...(ec2TagSpecifications("instance", i.tags) ?? []), ...(ec2TagSpecifications("volume", root.tags) ?? [])],
                        },
                    },
                ],
                limits: [
                    // EC2 User Guide, "Run commands when you launch an EC2 instance with user data input": 16 KB raw.
                    [
                        `${r.name}.userData`,
                        Buffer.byteLength(i.userData) > 16 * 1024,
                        `user data is ${Buffer.byteLength(i.userData)} bytes; the limit is 16 KB before base64`,
                    ],
                ],
            };
        }
        case "aws:ebs/volume:Volume":
            return {
                requests: [
                    {
                        service: "ec2",
                        operation: "CreateVolume",
                        request: {
                            AvailabilityZone: i.availabilityZone,
                            Size: i.size,
                            VolumeType: i.type,
                            Encrypted: i.encrypted,
                            KmsKeyId: i.kmsKeyId,
                            Iops: i.iops,
                            Throughput: i.throughput,
                            TagSpecifications: ec2TagSpecifications("volume", i.tags),
                        },
                    },
                ],
                // EBS User Guide, volume types: gp3 is 1 GiB to 16 TiB.
                limits: [[`${r.name}.size`, i.type === "gp3" && (i.size < 1 || i.size > 16384), `gp3 volume of ${i.size} GiB; gp3 takes 1-16384`]],
            };
        case "aws:ec2/vpc:Vpc":
            // DNS support and hostnames are ModifyVpcAttribute calls after CreateVpc, one attribute each.
            return {
                requests: [
                    { service: "ec2", operation: "CreateVpc", request: { CidrBlock: i.cidrBlock, TagSpecifications: ec2TagSpecifications("vpc", i.tags) } },
                    {
                        service: "ec2",
                        operation: "ModifyVpcAttribute",
                        request: { VpcId: "vpc-0123456789abcdef0", EnableDnsSupport: { Value: i.enableDnsSupport } },
                    },
                    {
                        service: "ec2",
                        operation: "ModifyVpcAttribute",
                        request: { VpcId: "vpc-0123456789abcdef0", EnableDnsHostnames: { Value: i.enableDnsHostnames } },
                    },
                ],
                limits: [],
            };
        case "aws:ec2/subnet:Subnet":
            return {
                requests: [
                    {
                        service: "ec2",
                        operation: "CreateSubnet",
                        request: {
                            VpcId: i.vpcId,
                            CidrBlock: i.cidrBlock,
                            AvailabilityZone: i.availabilityZone,
                            TagSpecifications: ec2TagSpecifications("subnet", i.tags),
                        },
                    },
                ],
                limits: [],
            };
        case "aws:ec2/routeTable:RouteTable":
            return {
                requests: [
                    {
                        service: "ec2",
                        operation: "CreateRouteTable",
                        request: { VpcId: i.vpcId, TagSpecifications: ec2TagSpecifications("route-table", i.tags) },
                    },
                ],
                limits: [],
            };
        case "aws:ec2/routeTableAssociation:RouteTableAssociation":
            return {
                requests: [{ service: "ec2", operation: "AssociateRouteTable", request: { RouteTableId: i.routeTableId, SubnetId: i.subnetId } }],
                limits: [],
            };
        case "aws:ec2/volumeAttachment:VolumeAttachment":
            return {
                requests: [{ service: "ec2", operation: "AttachVolume", request: { Device: i.deviceName, InstanceId: i.instanceId, VolumeId: i.volumeId } }],
                limits: [],
            };
        case "aws:ec2/vpcEndpoint:VpcEndpoint":
            return {
                requests: [
                    {
                        service: "ec2",
                        operation: "CreateVpcEndpoint",
                        request: {
                            VpcId: i.vpcId,
                            ServiceName: i.serviceName,
                            VpcEndpointType: i.vpcEndpointType,
                            SubnetIds: i.subnetIds,
                            RouteTableIds: i.routeTableIds,
                            SecurityGroupIds: i.securityGroupIds,
                            PrivateDnsEnabled: i.privateDnsEnabled,
                            PolicyDocument: i.policy,
                            TagSpecifications: ec2TagSpecifications("vpc-endpoint", i.tags),
                        },
                    },
                ],
                limits: [],
            };
        case "aws:ec2/securityGroup:SecurityGroup": {
            // EC2 API reference, CreateSecurityGroup GroupDescription and IpRange/Description: up to 255 characters
            // of a-z, A-Z, 0-9, spaces, and ._-:/()#,@[]+=&;{}!$*
            const sgText = /^[A-Za-z0-9 ._\-:/()#,@[\]+=&;{}!$*]{0,255}$/;
            const rules = [...(i.ingress ?? []), ...(i.egress ?? [])] as { description?: string }[];
            return {
                requests: [
                    {
                        service: "ec2",
                        operation: "CreateSecurityGroup",
                        request: {
                            Description: i.description,
                            GroupName: autoName(r),
                            VpcId: i.vpcId,
                            TagSpecifications: ec2TagSpecifications("security-group", i.tags),
                        },
                    },
                ],
                limits: [
                    [`${r.name}.description`, !sgText.test(i.description), `group description ${JSON.stringify(i.description)} uses characters EC2 refuses`],
                    ...rules.map((rule, n): DocumentedLimit => [
                        `${r.name}.rules[${n}].description`,
                        !sgText.test(rule.description ?? ""),
                        `rule description ${JSON.stringify(rule.description)} uses characters EC2 refuses`,
                    ]),
                ],
            };
        }
        case "aws:cloudwatch/logGroup:LogGroup":
            return {
                requests: [
                    {
                        service: "logs",
                        operation: "CreateLogGroup",
                        request: { logGroupName: autoName(r), kmsKeyId: i.kmsKeyId, tags: i.tags && Object.keys(i.tags).length ? i.tags : undefined },
                    },
                    { service: "logs", operation: "PutRetentionPolicy", request: { logGroupName: autoName(r), retentionInDays: i.retentionInDays } },
                ],
                limits: [],
            };
        case "aws:iam/role:Role":
            return {
                requests: [
                    {
                        service: "iam",
                        operation: "CreateRole",
                        request: {
                            RoleName: autoName(r),
                            AssumeRolePolicyDocument: i.assumeRolePolicy,
                            Description: i.description,
                            Tags: tagList(i.tags),
                        },
                    },
                ],
                limits: [],
            };
        case "aws:iam/rolePolicy:RolePolicy":
            return {
                requests: [
                    {
                        service: "iam",
                        operation: "PutRolePolicy",
                        request: { RoleName: "role-from-the-stack", PolicyName: autoName(r), PolicyDocument: i.policy },
                    },
                ],
                // IAM User Guide, IAM and STS quotas: inline policies of a role, 10,240 characters in all (whitespace not counted).
                limits: [
                    [
                        `${r.name}.policy`,
                        withoutWhitespace(i.policy) > 10240,
                        `inline policy of ${withoutWhitespace(i.policy)} characters; a role's inline policies are 10,240 in all`,
                    ],
                ],
            };
        case "aws:iam/policy:Policy":
            return {
                requests: [
                    {
                        service: "iam",
                        operation: "CreatePolicy",
                        request: { PolicyName: autoName(r), Description: i.description, PolicyDocument: i.policy, Tags: tagList(i.tags) },
                    },
                ],
                // IAM User Guide, IAM and STS quotas: managed policy size 6,144 characters (whitespace not counted).
                limits: [
                    [`${r.name}.policy`, withoutWhitespace(i.policy) > 6144, `managed policy of ${withoutWhitespace(i.policy)} characters; the limit is 6,144`],
                ],
            };
        case "aws:iam/rolePolicyAttachment:RolePolicyAttachment":
            return {
                requests: [{ service: "iam", operation: "AttachRolePolicy", request: { RoleName: "role-from-the-stack", PolicyArn: i.policyArn } }],
                limits: [],
            };
        case "aws:iam/instanceProfile:InstanceProfile":
            return {
                requests: [{ service: "iam", operation: "CreateInstanceProfile", request: { InstanceProfileName: autoName(r), Tags: tagList(i.tags) } }],
                limits: [],
            };
        case "aws:cloudwatch/eventRule:EventRule":
            return {
                requests: [
                    {
                        service: "events",
                        operation: "PutRule",
                        request: { Name: autoName(r), EventPattern: i.eventPattern, Description: i.description, Tags: tagList(i.tags) },
                    },
                ],
                limits: [],
            };
        case "aws:cloudwatch/eventTarget:EventTarget":
            return {
                requests: [
                    {
                        service: "events",
                        operation: "PutTargets",
                        request: {
                            Rule: `${i.rule}`.slice(0, 64),
                            Targets: [
                                {
                                    // The provider's generated target id: "terraform-" and a timestamp with a counter.
                                    Id: "terraform-20261201065307123400000001",
                                    Arn: i.arn,
                                    InputTransformer: i.inputTransformer
                                        ? { InputPathsMap: i.inputTransformer.inputPaths, InputTemplate: i.inputTransformer.inputTemplate }
                                        : undefined,
                                },
                            ],
                        },
                    },
                ],
                limits: [],
            };
        case "aws:kms/key:Key":
            return {
                requests: [
                    {
                        service: "kms",
                        operation: "CreateKey",
                        request: {
                            Description: i.description,
                            Policy: i.policy,
                            KeyUsage: i.keyUsage,
                            KeySpec: i.customerMasterKeySpec,
                            Tags: i.tags && Object.keys(i.tags).length ? Object.entries(i.tags).map(([TagKey, TagValue]) => ({ TagKey, TagValue })) : undefined,
                        },
                    },
                    ...(i.enableKeyRotation
                        ? [{ service: "kms", operation: "EnableKeyRotation", request: { KeyId: "1234abcd-12ab-34cd-56ef-1234567890ab" } }]
                        : []),
                ],
                // KMS: a key policy is at most 32 KB.
                limits: [[`${r.name}.policy`, (i.policy ?? "").length > 32768, "key policy over 32 KB"]],
            };
        case "aws:sns/topic:Topic":
            return {
                requests: [
                    {
                        service: "sns",
                        operation: "CreateTopic",
                        request: {
                            Name: autoName(r),
                            Tags: tagList(i.tags),
                            Attributes:
                                i.displayName || i.kmsMasterKeyId
                                    ? {
                                          ...(i.displayName ? { DisplayName: i.displayName } : {}),
                                          ...(i.kmsMasterKeyId ? { KmsMasterKeyId: i.kmsMasterKeyId } : {}),
                                      }
                                    : undefined,
                        },
                    },
                ],
                // SNS API reference, CreateTopic Name: up to 256 letters, digits, hyphens and underscores.
                limits: [[`${r.name}.name`, !/^[A-Za-z0-9_-]{1,256}$/.test(autoName(r)), `topic name ${autoName(r)} is not 1-256 of A-Za-z0-9_-`]],
            };
        case "aws:sns/topicPolicy:TopicPolicy":
            return {
                requests: [
                    { service: "sns", operation: "SetTopicAttributes", request: { TopicArn: i.arn, AttributeName: "Policy", AttributeValue: i.policy } },
                ],
                limits: [],
            };
        case "aws:dlm/lifecyclePolicy:LifecyclePolicy": {
            const d = i.policyDetails;
            return {
                requests: [
                    {
                        service: "dlm",
                        operation: "CreateLifecyclePolicy",
                        request: {
                            ExecutionRoleArn: "arn:aws:iam::111122223333:role/dlm-role-1a2b3c4",
                            Description: i.description,
                            State: i.state,
                            Tags: i.tags && Object.keys(i.tags).length ? i.tags : undefined,
                            PolicyDetails: {
                                PolicyType: d.policyType,
                                ResourceTypes: d.resourceTypes,
                                TargetTags: tagList(d.targetTags),
                                Parameters: d.parameters ? { ExcludeBootVolume: d.parameters.excludeBootVolume } : undefined,
                                // eslint-disable-next-line @typescript-eslint/no-explicit-any
                                Schedules: d.schedules.map((sc: Record<string, any>) => ({
                                    Name: sc.name,
                                    CopyTags: sc.copyTags,
                                    TagsToAdd: tagList(sc.tagsToAdd),
                                    VariableTags: tagList(sc.variableTags),
                                    CreateRule: {
                                        CronExpression: sc.createRule.cronExpression,
                                        Scripts: sc.createRule.scripts
                                            ? [
                                                  {
                                                      Stages: sc.createRule.scripts.stages,
                                                      ExecutionHandler: sc.createRule.scripts.executionHandler,
                                                      ExecutionHandlerService: sc.createRule.scripts.executionHandlerService,
                                                      ExecutionTimeout: sc.createRule.scripts.executionTimeout,
                                                      MaximumRetryCount: sc.createRule.scripts.maximumRetryCount,
                                                      ExecuteOperationOnScriptFailure: sc.createRule.scripts.executeOperationOnScriptFailure,
                                                  },
                                              ]
                                            : undefined,
                                    },
                                    RetainRule: { Count: sc.retainRule.count, Interval: sc.retainRule.interval, IntervalUnit: sc.retainRule.intervalUnit },
                                    CrossRegionCopyRules: sc.crossRegionCopyRules?.length
                                        ? // eslint-disable-next-line @typescript-eslint/no-explicit-any
                                          sc.crossRegionCopyRules.map((c: Record<string, any>) => ({
                                              TargetRegion: c.targetRegion,
                                              Encrypted: c.encrypted,
                                              CmkArn: c.cmkArn,
                                              CopyTags: c.copyTags,
                                              RetainRule: c.retainRule
                                                  ? { Interval: c.retainRule.interval, IntervalUnit: c.retainRule.intervalUnit }
                                                  : undefined,
                                          }))
                                        : undefined,
                                    FastRestoreRule: sc.fastRestoreRule
                                        ? { AvailabilityZones: sc.fastRestoreRule.availabilityZones, Count: sc.fastRestoreRule.count }
                                        : undefined,
                                })),
                            },
                        },
                    },
                ],
                limits: [],
            };
        }
        case "aws:cloudwatch/logMetricFilter:LogMetricFilter": {
            const t = i.metricTransformation;
            return {
                requests: [
                    {
                        service: "logs",
                        operation: "PutMetricFilter",
                        request: {
                            logGroupName: i.logGroupName,
                            filterName: autoName(r),
                            filterPattern: i.pattern,
                            metricTransformations: [
                                { metricName: t.name, metricNamespace: t.namespace, metricValue: t.value, unit: t.unit, dimensions: t.dimensions },
                            ],
                        },
                    },
                ],
                limits: [
                    // CloudWatch Logs API reference, MetricTransformation: at most 3 dimensions, and no defaultValue with dimensions.
                    [
                        `${r.name}.dimensions`,
                        Object.keys(t.dimensions ?? {}).length > 3 || (t.dimensions !== undefined && t.defaultValue !== undefined),
                        "a metric filter takes at most 3 dimensions, and no default value with dimensions",
                    ],
                ],
            };
        }
        case "aws:cloudwatch/metricAlarm:MetricAlarm": {
            const queries = (i.metricQueries ?? []) as {
                id: string;
                expression?: string;
                label?: string;
                returnData?: boolean;
                metric?: { namespace: string; metricName: string; dimensions?: Record<string, string>; period: number; stat: string };
            }[];
            const period = Math.max(...queries.filter((q) => q.metric).map((q) => q.metric!.period));
            return {
                requests: [
                    {
                        service: "cloudwatch",
                        operation: "PutMetricAlarm",
                        request: {
                            AlarmName: autoName(r),
                            AlarmDescription: i.alarmDescription,
                            ComparisonOperator: i.comparisonOperator,
                            Threshold: i.threshold,
                            EvaluationPeriods: i.evaluationPeriods,
                            DatapointsToAlarm: i.datapointsToAlarm,
                            TreatMissingData: i.treatMissingData,
                            Metrics: queries.map((q) => ({
                                Id: q.id,
                                Expression: q.expression,
                                Label: q.label,
                                ReturnData: q.returnData,
                                MetricStat: q.metric
                                    ? {
                                          Metric: {
                                              Namespace: q.metric.namespace,
                                              MetricName: q.metric.metricName,
                                              Dimensions: Object.entries(q.metric.dimensions ?? {}).map(([Name, Value]) => ({ Name, Value })),
                                          },
                                          Period: q.metric.period,
                                          Stat: q.metric.stat,
                                      }
                                    : undefined,
                            })),
                            Tags: tagList(i.tags),
                        },
                    },
                ],
                limits: [
                    // CloudWatch API reference, PutMetricAlarm Period: Period x EvaluationPeriods at most 604,800 s (86,400 below an hour).
                    [
                        `${r.name}.evaluationPeriods`,
                        period * i.evaluationPeriods > (period >= 3600 ? 604800 : 86400),
                        `${i.evaluationPeriods} periods of ${period} s is longer than an alarm evaluates`,
                    ],
                    // PutMetricAlarm DatapointsToAlarm: at most EvaluationPeriods; exactly one query returns data.
                    [`${r.name}.datapointsToAlarm`, i.datapointsToAlarm > i.evaluationPeriods, "more datapoints to alarm than evaluation periods"],
                    [`${r.name}.metricQueries`, queries.filter((q) => q.returnData).length !== 1, "an alarm's metric math returns exactly one time series"],
                ],
            };
        }
        case "aws:cloudwatch/dashboard:Dashboard":
            return {
                requests: [{ service: "cloudwatch", operation: "PutDashboard", request: { DashboardName: i.dashboardName, DashboardBody: i.dashboardBody } }],
                limits: [
                    // CloudWatch API reference, PutDashboard DashboardName: 1-255 of A-Z, a-z, 0-9, "-" and "_" (not in the model).
                    [`${r.name}.dashboardName`, !/^[A-Za-z0-9_-]{1,255}$/.test(i.dashboardName), `dashboard name ${JSON.stringify(i.dashboardName)}`],
                    // Dashboard body structure: each metric widget names its Region; widgets lie on the 24-column grid.
                    [
                        `${r.name}.dashboardBody`,
                        (JSON.parse(i.dashboardBody).widgets as { type: string; x: number; width: number; properties: { region?: string } }[]).some(
                            (w) => w.x + w.width > 24 || (w.type === "metric" && !/^[a-z]{2}(-[a-z]+)+-\d$/.test(w.properties.region ?? "")),
                        ),
                        "a widget off the 24-column grid, or a metric widget without its Region",
                    ],
                ],
            };
        case "aws:sns/topicSubscription:TopicSubscription":
            return {
                requests: [{ service: "sns", operation: "Subscribe", request: { TopicArn: i.topic, Protocol: i.protocol, Endpoint: i.endpoint } }],
                limits: [],
            };
        case "aws:ec2/launchTemplate:LaunchTemplate":
            return {
                requests: [
                    {
                        service: "ec2",
                        operation: "CreateLaunchTemplate",
                        request: {
                            LaunchTemplateName: autoName(r),
                            VersionDescription: i.description,
                            LaunchTemplateData: {
                                ImageId: i.imageId,
                                InstanceType: i.instanceType,
                                IamInstanceProfile: { Arn: i.iamInstanceProfile.arn },
                                InstanceInitiatedShutdownBehavior: i.instanceInitiatedShutdownBehavior,
                                MetadataOptions: {
                                    HttpTokens: i.metadataOptions.httpTokens,
                                    HttpEndpoint: i.metadataOptions.httpEndpoint,
                                    HttpPutResponseHopLimit: i.metadataOptions.httpPutResponseHopLimit,
                                    InstanceMetadataTags: i.metadataOptions.instanceMetadataTags,
                                },
                                NetworkInterfaces: i.networkInterfaces.map((n: Record<string, unknown>) => ({
                                    DeviceIndex: n.deviceIndex,
                                    SubnetId: n.subnetId,
                                    Groups: n.securityGroups,
                                    AssociatePublicIpAddress: n.associatePublicIpAddress === "true",
                                    DeleteOnTermination: n.deleteOnTermination === "true",
                                })),
                                CreditSpecification: i.creditSpecification ? { CpuCredits: i.creditSpecification.cpuCredits } : undefined,
                                UserData: i.userData,
                            },
                            TagSpecifications: ec2TagSpecifications("launch-template", i.tags),
                        },
                    },
                ],
                limits: [
                    // EC2 User Guide, user data: 16 KB before base64.
                    [`${r.name}.userData`, Buffer.from(i.userData, "base64").length > 16 * 1024, "user data is over 16 KB"],
                ],
            };
        case "aws:scheduler/scheduleGroup:ScheduleGroup":
            return {
                requests: [{ service: "scheduler", operation: "CreateScheduleGroup", request: { Name: autoName(r), Tags: tagList(i.tags) } }],
                limits: [],
            };
        case "aws:scheduler/schedule:Schedule":
            return {
                requests: [
                    {
                        service: "scheduler",
                        operation: "CreateSchedule",
                        request: {
                            Name: autoName(r),
                            GroupName: i.groupName,
                            Description: i.description,
                            ScheduleExpression: i.scheduleExpression,
                            ScheduleExpressionTimezone: i.scheduleExpressionTimezone,
                            State: i.state,
                            FlexibleTimeWindow: { Mode: i.flexibleTimeWindow.mode },
                            Target: {
                                Arn: i.target.arn,
                                RoleArn: i.target.roleArn,
                                Input: i.target.input,
                                RetryPolicy: { MaximumRetryAttempts: i.target.retryPolicy.maximumRetryAttempts },
                            },
                        },
                    },
                    // What the schedule sends: its input is StartAutomationExecution's request.
                    { service: "ssm", operation: "StartAutomationExecution", request: JSON.parse(i.target.input) },
                ],
                limits: [],
            };
        default:
            return undefined;
    }
}

/** Example values of the runbook's step outputs, in the forms scripts/restore-drill.py returns them. */
const RUNBOOK_OUTPUT_EXAMPLES: Record<string, unknown> = {
    "launchDrillInstance.InstanceId": "i-0123456789abcdef0",
    "chooseSnapshotSet.SnapshotIds": ["snap-0123456789abcdef0"],
    "chooseSnapshotSet.BlockDeviceMappings": [
        { DeviceName: "/dev/sdf", Ebs: { SnapshotId: "snap-0123456789abcdef0", VolumeType: "gp3", Encrypted: true, DeleteOnTermination: true } },
    ],
};

/** A runbook value with its {{...}} references replaced by example values (a whole-value reference by its example). */
function substituteReferences(value: unknown): unknown {
    if (typeof value === "string") {
        const whole = /^\{\{\s*([A-Za-z0-9_.:]+)\s*\}\}$/.exec(value)?.[1];
        if (whole && whole in RUNBOOK_OUTPUT_EXAMPLES) return RUNBOOK_OUTPUT_EXAMPLES[whole];
        return value.replace(/\{\{\s*[A-Za-z0-9_.:]+\s*\}\}/g, "x1");
    }
    if (Array.isArray(value))
        return value.flatMap((v) =>
            typeof v === "string" && Array.isArray(substituteReferences(v)) ? (substituteReferences(v) as unknown[]) : [substituteReferences(v)],
        );
    if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteReferences(v)]));
    return value;
}

/** The AWS requests an Automation runbook's steps make: executeAwsApi and waitForAwsResourceProperty calls, runCommand's SendCommand. */
function runbookStepRequests(runbook: { mainSteps: { action: string; inputs: Record<string, unknown> }[] }): Request[] {
    return runbook.mainSteps.flatMap((step): Request[] => {
        const { Service, Api, PropertySelector: _selector, DesiredValues: _desired, ...inputs } = substituteReferences(step.inputs) as Record<string, unknown>; // eslint-disable-line @typescript-eslint/no-unused-vars
        if (step.action === "aws:executeAwsApi" || step.action === "aws:waitForAwsResourceProperty") {
            return [{ service: String(Service), operation: String(Api), request: inputs }];
        }
        if (step.action === "aws:runCommand") return [{ service: "ssm", operation: "SendCommand", request: inputs }];
        return [];
    });
}

/**
 * Types that make no request of their own: our components, awsx's remote VPC (awsx validates its children), and
 * explicit providers (configuration of the engine, not AWS resources).
 */
const NO_REQUEST = /^(consistent-snapshots:index:|awsx:ec2:Vpc$|pulumi:providers:)/;

/** Every violation of the models and documented limits by what is registered now. */
function check(): { violations: (Violation | { operation: "documented limit"; path: string; problem: string })[]; requests: number } {
    const violations: (Violation | { operation: "documented limit"; path: string; problem: string })[] = [];
    let requests = 0;
    for (const r of resources) {
        if (NO_REQUEST.test(r.type)) continue;
        const mapped = requestsFor(r);
        if (!mapped) {
            violations.push({
                operation: "documented limit",
                path: r.name,
                problem: `no mapping of ${r.type} to an AWS request: add one to aws-api-models.spec.ts`,
            });
            continue;
        }
        for (const { service, operation, request } of mapped.requests) {
            requests += 1;
            violations.push(...validateRequest(service, operation, JSON.parse(JSON.stringify(request))).map((v) => ({ ...v, path: `${r.name}: ${v.path}` })));
        }
        for (const [where, broken, problem] of mapped.limits) if (broken) violations.push({ operation: "documented limit", path: where, problem });
    }
    return { violations, requests };
}

const LONGEST_TAG_KEY = `Backup:Team/é ${"k".repeat(128)}`.slice(0, 128);
const longTagValue = (i: number, length = 256) => `${i}-${"é ß=.:/_+@-".repeat(26)}`.slice(0, length);
const EDGE_CONFIGS: Record<string, Record<string, unknown>> = {
    "longest tag key and value, private network, 19 extra targets (values up to what the instance policy holds), 7-character counts": {
        tagKey: LONGEST_TAG_KEY,
        tagValue: longTagValue(0),
        networkMode: "private",
        maxConcurrency: "9999999",
        maxErrors: "9999999",
        extraTargets: Array.from({ length: 19 }, (_, i) => ({
            tagValue: longTagValue(i + 1, 190),
            script: "consistent-snapshot",
            maxConcurrency: "100%",
            maxErrors: "0%",
            parameters: { snapshotDescription: "d".repeat(255), freezeMounts: `/${"m".repeat(60)} /${"n".repeat(60)}`, database: "none" },
        })),
        commandTimeoutSeconds: "2592000",
        duration: "24",
        cutoff: "23",
        schedule: "cron(0,15,30,45 0/2 ? * MON,TUE,WED,THU,FRI,SAT,SUN *)",
        alertEmail: "oncall@example.com",
        dataVolumeSizeGiB: "16384",
        logRetentionDays: "3653",
        binlogExpireDays: "99",
        protectDataVolume: "true",
        retainDataVolumeOnDelete: "true",
        logGroupKmsKey: "create",
    },
    "empty tag value, public network, shortest everything": {
        tagKey: "K",
        tagValue: "",
        networkMode: "public",
        maxConcurrency: "1",
        maxErrors: "0",
        duration: "1",
        cutoff: "0",
        commandTimeoutSeconds: "30",
        dataVolumeSizeGiB: "1",
        logRetentionDays: "1",
        binlogExpireDays: "1",
    },
    "no demo host, alerts to an existing topic": {
        createDemoHost: "false",
        alertTopicArn: "arn:aws:sns:us-east-1:111122223333:existing-alerts",
        schedule: "rate(1 day)",
        logGroupKmsKey: "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    },
};

describe("the program against AWS's API models (botocore service-2.json)", function () {
    this.timeout(300_000);
    before(() => {
        modelsPackage();
    }); // fetches the models once per machine

    it("can fail: a request over the limits this program once produced is refused by the models", () => {
        const violations = validateRequest("ssm", "RegisterTargetWithMaintenanceWindow", {
            WindowId: AWS_IDS.windowId,
            ResourceType: "INSTANCE",
            Name: "main",
            Description: `Instances tagged ConsistentSnapshot=${"v".repeat(256)}`,
            OwnerInformation: "",
            Targets: [{ Key: "tag:Team+Backup", Values: ["x"] }],
        });
        assert.deepEqual(violations.map((v) => v.path).sort(), [
            "RegisterTargetWithMaintenanceWindow.Description",
            "RegisterTargetWithMaintenanceWindow.OwnerInformation",
            "RegisterTargetWithMaintenanceWindow.Targets[0].Key",
        ]);
        assert.deepEqual(
            validateRequest("ssm", "RegisterTaskWithMaintenanceWindow", {
                WindowId: AWS_IDS.windowId,
                TaskArn: "doc",
                TaskType: "RUN_COMMAND",
                MaxConcurrency: "12345678",
                MaxErrors: "1",
                Colour: "red",
            }).map((v) => v.problem.replace(/ \([A-Za-z]+\)$/, "")),
            ["8 characters, more than max 7", "no such member of RegisterTaskWithMaintenanceWindowRequest"],
        );
        assert.deepEqual(
            validateRequest("dlm", "CreateLifecyclePolicy", {
                ExecutionRoleArn: "arn:aws:iam::111122223333:role/dlm",
                Description: "consistent-snapshots: colon",
                State: "ENABLED",
                PolicyDetails: {
                    ResourceTypes: ["INSTANCE"],
                    Schedules: [
                        {
                            CreateRule: { CronExpression: "cron(0 0 * * ? *)", Scripts: [{ ExecutionHandler: "doc", ExecutionTimeout: 121 }] },
                            CrossRegionCopyRules: ["a", "b", "c", "d"].map(() => ({ TargetRegion: "eu-west-1", Encrypted: true })),
                        },
                    ],
                },
            })
                .map((v) => v.path)
                .sort(),
            [
                "CreateLifecyclePolicy.Description",
                "CreateLifecyclePolicy.PolicyDetails.Schedules[0].CreateRule.Scripts[0].ExecutionTimeout",
                "CreateLifecyclePolicy.PolicyDetails.Schedules[0].CrossRegionCopyRules",
            ],
        );
    });

    for (const stack of ["dev", "prod", "staging"]) {
        it(`Pulumi.${stack}.yaml: every request the stack makes satisfies the models and the documented limits`, async () => {
            await useMocks(stack, stackFileConfig(stack));
            createStack();
            await settle();
            const { violations, requests } = check();
            assert.deepEqual(violations, [], `models: ${modelsPackage()}`);
            assert.ok(requests >= 20, `only ${requests} requests checked`);
        });
    }

    for (const [name, raw] of Object.entries(EDGE_CONFIGS)) {
        it(`edge config (${name}): accepted by the config validation, and every request is valid`, async () => {
            const config: StackConfig = validateStackConfig(raw);
            await useMocks("edge", {});
            createStack(config);
            await settle();
            const { violations } = check();
            assert.deepEqual(violations, [], `models: ${modelsPackage()}`);
        });
    }

    it("SnapshotLifecyclePolicy at its limits (3 copy Regions with keys, 10 fast-restore zones, 44 added tags, longest target tag): valid DLM, IAM requests", async () => {
        await useMocks("dlm", {});
        const document = new SnapshotDocument("doc", { tags: { DLMScriptsAccess: "true" } });
        new SnapshotLifecyclePolicy("dlm", {
            document,
            tagKey: LONGEST_TAG_KEY,
            tagValue: longTagValue(0),
            cronExpression: "cron(30 2 ? * MON-FRI *)",
            freshnessHours: 168,
            retainDays: 36500,
            copyToRegions: ["eu-central-1", "us-west-2", "ap-southeast-2"].map((region, n) => ({
                region,
                retainDays: 90 + n,
                cmkArn: `arn:aws:kms:${region}:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890a${n}`,
            })),
            fastRestoreAvailabilityZones: ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"].map((z) => `us-east-1${z}`),
            fastRestoreCount: 1000,
            tagsToAdd: Object.fromEntries(Array.from({ length: 44 }, (_, n) => [`Added${n}`, `value-${n}`])),
            scriptExecutionTimeoutSeconds: 120,
            scriptMaximumRetryCount: 3,
            tags: { Project: "consistent-snapshots" },
        });
        await settle();
        const { violations, requests } = check();
        assert.deepEqual(violations, [], `models: ${modelsPackage()}`);
        assert.ok(requests >= 4);
    });

    for (const [example, stack] of [
        ["existing-vpc", "dev"],
        ["multi-region", "prod"],
        ["multi-region", "staging"],
    ]) {
        it(`examples/${example} (${stack}): every request the example makes satisfies the models and the documented limits`, async () => {
            await runExample(example, stack, example === "existing-vpc" ? { alertEmail: "dba@example.com" } : {});
            const { violations, requests } = check();
            assert.deepEqual(violations, [], `models: ${modelsPackage()}`);
            assert.ok(requests >= 10, `only ${requests} requests checked`);
        });
    }

    it("the edge configs reach the limits the validation admits (so they test the limits)", () => {
        const edge = validateStackConfig(Object.values(EDGE_CONFIGS)[0]);
        assert.equal([...edge.tagKey].length, 128);
        assert.equal([...edge.tagValue].length, 256);
        assert.equal(edge.extraTargets.length, 19);
        assert.equal(validateStackConfig(Object.values(EDGE_CONFIGS)[1]).tagValue, "");
        assert.notEqual(CONFIG_DEFAULTS.networkMode, edge.networkMode);
    });
});
