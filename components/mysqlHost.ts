import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { readScript } from "./paths";
import { accountContext, serviceTrustPolicy, snapshotInstancePolicy } from "./policies";
import { DEFAULT_TAG_KEY, DEFAULT_TAG_VALUE } from "./rules";

/** Public SSM parameters holding the latest Amazon Linux 2023 AMI ids. */
export const AL2023_AMI_PARAMETERS = {
    x86_64: "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
    arm64: "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64",
} as const;

/** Device name of the data volume as attached (it appears as an NVMe device on Nitro instances). */
export const DATA_VOLUME_DEVICE_NAME = "/dev/sdf";

/** The oldest SSM Agent that passes document parameters as environment variables (`interpolationType: ENV_VAR`). */
export const MIN_SSM_AGENT_VERSION = "3.3.2746.0";

/**
 * The demo host's user data: a header with the settings, then scripts/mysql-host-user-data.sh verbatim (its
 * own shebang line is a comment there).
 */
export function mysqlHostUserData(settings: { dataVolumeId: string; binlogExpireDays: number }): string {
    if (!/^vol-[0-9a-f]{8,17}$/.test(settings.dataVolumeId)) throw new Error(`mysqlHostUserData: '${settings.dataVolumeId}' is not an EBS volume id`);
    return [
        "#!/usr/bin/env bash",
        "# consistent-snapshots MysqlHost: the settings of scripts/mysql-host-user-data.sh, which follows verbatim.",
        `export DATA_VOLUME_ID=${settings.dataVolumeId} BINLOG_EXPIRE_DAYS=${settings.binlogExpireDays}`,
        readScript("mysql-host-user-data.sh"),
    ].join("\n");
}

export interface MysqlHostArgs {
    /** Subnet to launch in. Required. */
    subnetId: pulumi.Input<string>;
    /** VPC of the subnet (for the security group). Required. */
    vpcId: pulumi.Input<string>;
    /** Give the instance a public IP: needed in a public subnet without NAT to reach SSM and EC2. Default: false. */
    associatePublicIpAddress?: boolean;
    /** Tag key the maintenance window targets. Default: `ConsistentSnapshot`. AWS constraint: EC2 tag key rules. */
    tagKey?: string;
    /** Tag value the maintenance window targets. Default: `AmazonLinuxMySQL`. AWS constraint: EC2 tag value rules. */
    tagValue?: string;
    /** EC2 instance type. Default: `t3.micro`. Use a Graviton type (e.g. t4g.micro) with `architecture: "arm64"`. */
    instanceType?: string;
    /** CPU architecture of the AMI. Default: `x86_64`. */
    architecture?: "x86_64" | "arm64";
    /**
     * Size of the encrypted gp3 data volume holding the datadir and binlog, in GiB. Default: 20. AWS constraint: 1-16384.
     * The volume is its own resource (`aws.ebs.Volume` + attachment), not part of the instance: replacing the
     * instance (new user data, a deliberate host roll) keeps the database.
     */
    dataVolumeSizeGiB?: number;
    /**
     * Pulumi `protect` on the data volume: `pulumi destroy` and any plan that would replace it fail until it
     * is unprotected (`pulumi state unprotect`). Default: false.
     */
    protectDataVolume?: boolean;
    /**
     * Pulumi `retainOnDelete` on the data volume: when Pulumi deletes it (destroy, or the host removed from
     * the program), the volume is dropped from the stack but kept in AWS. Default: false.
     */
    retainDataVolumeOnDelete?: boolean;
    /**
     * Days MariaDB keeps binary logs (`expire_logs_days`) before purging them. Default: 7. Range: 1-99
     * (MariaDB's limit). Keep at least the time between two snapshots plus the time to notice a failed one:
     * point-in-time recovery replays binlogs from a snapshot's position.
     */
    binlogExpireDays?: number;
    /** Size of the encrypted gp3 root volume, in GiB. Default: 10 (the AMI needs at least 8). */
    rootVolumeSizeGiB?: number;
    /** KMS key for both volumes. Default: the account's default EBS key (`aws/ebs`). */
    kmsKeyId?: pulumi.Input<string>;
    /**
     * The host is snapshotted by Data Lifecycle Manager with the document as pre/post script: its post-script may
     * tag the snapshots DLM created (only those, only with its own keys). Default: false.
     */
    lifecyclePolicyScripts?: boolean;
    /** Log group receiving Run Command output, to allow the instance to write it. Default: none. */
    logGroupArn?: pulumi.Input<string>;
    /** Tags for every resource. Default: none. */
    tags?: Record<string, string>;
}

/** The host's defaults (what the Args' TSDoc says), applied with `??` where each argument is read. */
export const MYSQL_HOST_DEFAULTS = Object.freeze({
    architecture: "x86_64",
    instanceType: "t3.micro",
    dataVolumeSizeGiB: 20,
    rootVolumeSizeGiB: 10,
    binlogExpireDays: 7,
    protectDataVolume: false,
    retainDataVolumeOnDelete: false,
    associatePublicIpAddress: false,
    lifecyclePolicyScripts: false,
} as const);

/**
 * The reference database host: Amazon Linux 2023 with MariaDB on a separate encrypted data volume that
 * outlives the instance, reachable only through Session Manager (no ingress), IMDSv2 required, and an instance
 * role that may call exactly what the snapshot script calls, on itself only. The AMI is fixed at creation.
 */
export class MysqlHost extends pulumi.ComponentResource {
    /** The instance's id. */
    public readonly instanceId: pulumi.Output<string>;
    /** The instance's ARN. */
    public readonly instanceArn: pulumi.Output<string>;
    /** The instance role's name (attach more policies to it if you add software). */
    public readonly roleName: pulumi.Output<string>;
    /** The instance role's ARN. */
    public readonly roleArn: pulumi.Output<string>;
    /** The instance's security group (no ingress). */
    public readonly securityGroupId: pulumi.Output<string>;
    /** The data volume's id (datadir and binlog); it outlives the instance. */
    public readonly dataVolumeId: pulumi.Output<string>;
    /** The tags the maintenance window targets, as applied to the instance. */
    public readonly targetTags: Record<string, string>;

    constructor(name: string, args: MysqlHostArgs, opts?: pulumi.ComponentResourceOptions) {
        super("consistent-snapshots:index:MysqlHost", name, args, opts);
        const tagKey = args.tagKey ?? DEFAULT_TAG_KEY;
        const tagValue = args.tagValue ?? DEFAULT_TAG_VALUE;
        const architecture = args.architecture ?? MYSQL_HOST_DEFAULTS.architecture;
        this.targetTags = { [tagKey]: tagValue };
        const ctx = accountContext(this);

        const role = new aws.iam.Role(
            `${name}-role`,
            {
                description: "consistent-snapshots database host: SSM managed instance + snapshot script",
                // No aws:SourceAccount here: AWS documents that condition for service roles (SSM's maintenance-window
                // role), not for EC2 assuming an instance-profile role; a condition on an absent key would deny.
                assumeRolePolicy: serviceTrustPolicy("ec2.amazonaws.com"),
                tags: args.tags,
            },
            { parent: this },
        );
        new aws.iam.RolePolicyAttachment(
            `${name}-ssm-core`,
            {
                role: role.name,
                policyArn: ctx.apply((c) => `arn:${c.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore`),
            },
            { parent: this },
        );
        const profile = new aws.iam.InstanceProfile(`${name}-profile`, { role: role.name, tags: args.tags }, { parent: this });

        const securityGroup = new aws.ec2.SecurityGroup(
            `${name}-sg`,
            {
                vpcId: args.vpcId,
                description: "consistent-snapshots database host: no ingress (Session Manager), HTTPS out to AWS APIs",
                egress: [{ protocol: "tcp", fromPort: 443, toPort: 443, cidrBlocks: ["0.0.0.0/0"], description: "HTTPS to SSM, EC2, S3" }],
                tags: args.tags,
            },
            { parent: this },
        );

        const binlogExpireDays = args.binlogExpireDays ?? MYSQL_HOST_DEFAULTS.binlogExpireDays;
        if (!Number.isInteger(binlogExpireDays) || binlogExpireDays < 1 || binlogExpireDays > 99) {
            throw new Error(`MysqlHost ${name}: binlogExpireDays ${binlogExpireDays} is not a whole number of days from 1 to 99`);
        }
        const subnet = aws.ec2.getSubnetOutput({ id: args.subnetId }, { parent: this });
        // Its own resource so that it survives the instance; protect/retainOnDelete guard it against Pulumi itself.
        const dataVolume = new aws.ebs.Volume(
            `${name}-data`,
            {
                availabilityZone: subnet.availabilityZone,
                size: args.dataVolumeSizeGiB ?? MYSQL_HOST_DEFAULTS.dataVolumeSizeGiB,
                type: "gp3",
                encrypted: true,
                kmsKeyId: args.kmsKeyId,
                tags: { ...args.tags, Name: `${name}-data` },
            },
            {
                parent: this,
                protect: args.protectDataVolume ?? MYSQL_HOST_DEFAULTS.protectDataVolume,
                retainOnDelete: args.retainDataVolumeOnDelete ?? MYSQL_HOST_DEFAULTS.retainDataVolumeOnDelete,
            },
        );

        const ami = aws.ssm.getParameterOutput({ name: AL2023_AMI_PARAMETERS[architecture] }, { parent: this });
        const instance = new aws.ec2.Instance(
            name,
            {
                ami: ami.value,
                instanceType: args.instanceType ?? MYSQL_HOST_DEFAULTS.instanceType,
                subnetId: args.subnetId,
                vpcSecurityGroupIds: [securityGroup.id],
                associatePublicIpAddress: args.associatePublicIpAddress ?? MYSQL_HOST_DEFAULTS.associatePublicIpAddress,
                iamInstanceProfile: profile.name,
                metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1, instanceMetadataTags: "disabled" },
                // Tags on the root device only: the provider's volumeTags would also claim the data volume's tags.
                rootBlockDevice: {
                    encrypted: true,
                    kmsKeyId: args.kmsKeyId,
                    volumeType: "gp3",
                    volumeSize: args.rootVolumeSizeGiB ?? MYSQL_HOST_DEFAULTS.rootVolumeSizeGiB,
                    tags: { ...args.tags, Name: `${name}-root` },
                },
                userData: dataVolume.id.apply((dataVolumeId) => mysqlHostUserData({ dataVolumeId, binlogExpireDays })),
                userDataReplaceOnChange: true,
                tags: { ...args.tags, Name: name, ...this.targetTags },
            },
            {
                parent: this,
                // The AMI parameter moves with every AL2023 release; a new AMI must not replace the database host on a
                // routine `pulumi up`. Roll hosts deliberately (README: "Rolling the demo host to a new AMI").
                ignoreChanges: ["ami"],
            },
        );
        // Replacing the instance moves the attachment: detach first (one volume, one instance), stopping the old
        // instance so that MariaDB shuts down cleanly before its disk goes away.
        new aws.ec2.VolumeAttachment(
            `${name}-data`,
            {
                deviceName: DATA_VOLUME_DEVICE_NAME,
                volumeId: dataVolume.id,
                instanceId: instance.id,
                stopInstanceBeforeDetaching: true,
            },
            { parent: this, deleteBeforeReplace: true },
        );

        // Declared after the instance so that CreateSnapshots is allowed on this instance's ARN only.
        new aws.iam.RolePolicy(
            `${name}-snapshot`,
            {
                role: role.id,
                policy: pulumi.all([ctx, instance.arn, args.logGroupArn]).apply(([c, instanceArn, logGroupArn]) =>
                    JSON.stringify(
                        snapshotInstancePolicy(c, {
                            instanceArns: [instanceArn],
                            tagKey,
                            tagValues: [tagValue],
                            logGroupArn,
                            tagLifecyclePolicySnapshots: args.lifecyclePolicyScripts ?? MYSQL_HOST_DEFAULTS.lifecyclePolicyScripts,
                        }),
                    ),
                ),
            },
            { parent: this },
        );

        this.instanceId = instance.id;
        this.instanceArn = instance.arn;
        this.roleName = role.name;
        this.roleArn = role.arn;
        this.securityGroupId = securityGroup.id;
        this.dataVolumeId = dataVolume.id;
        this.registerOutputs({
            instanceId: this.instanceId,
            instanceArn: this.instanceArn,
            roleName: this.roleName,
            roleArn: this.roleArn,
            securityGroupId: this.securityGroupId,
            dataVolumeId: this.dataVolumeId,
        });
    }
}
