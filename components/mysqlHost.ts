import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { readScript } from "./paths";
import { accountContext, serviceTrustPolicy, snapshotInstancePolicy } from "./policies";

/** Public SSM parameters holding the latest Amazon Linux 2023 AMI ids. */
export const AL2023_AMI_PARAMETERS = {
    x86_64: "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
    arm64: "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64",
} as const;

/** Device name of the data volume as attached (it appears as an NVMe device on Nitro instances). */
export const DATA_VOLUME_DEVICE_NAME = "/dev/sdf";

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
     * The volume is deleted with the instance: its protection is the snapshots, not the volume.
     */
    dataVolumeSizeGiB?: number;
    /** Size of the encrypted gp3 root volume, in GiB. Default: 10 (the AMI needs at least 8). */
    rootVolumeSizeGiB?: number;
    /** KMS key for both volumes. Default: the account's default EBS key (`aws/ebs`). */
    kmsKeyId?: pulumi.Input<string>;
    /** Log group receiving Run Command output, to allow the instance to write it. Default: none. */
    logGroupArn?: pulumi.Input<string>;
    /** Tags for every resource. Default: none. */
    tags?: Record<string, string>;
}

/**
 * The reference database host: Amazon Linux 2023 with MariaDB on a separate encrypted data volume, reachable
 * only through Session Manager (no ingress), IMDSv2 required, and an instance role that may call exactly
 * what the snapshot script calls, on itself only.
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
    /** The tags the maintenance window targets, as applied to the instance. */
    public readonly targetTags: Record<string, string>;

    constructor(name: string, args: MysqlHostArgs, opts?: pulumi.ComponentResourceOptions) {
        super("consistent-snapshots:index:MysqlHost", name, args, opts);
        const tagKey = args.tagKey ?? "ConsistentSnapshot";
        const tagValue = args.tagValue ?? "AmazonLinuxMySQL";
        const architecture = args.architecture ?? "x86_64";
        this.targetTags = { [tagKey]: tagValue };
        const ctx = accountContext(this);

        const role = new aws.iam.Role(`${name}-role`, {
            description: "consistent-snapshots database host: SSM managed instance + snapshot script",
            // No aws:SourceAccount here: AWS documents that condition for service roles (SSM's maintenance-window
            // role), not for EC2 assuming an instance-profile role; a condition on an absent key would deny.
            assumeRolePolicy: serviceTrustPolicy("ec2.amazonaws.com"),
            tags: args.tags,
        }, { parent: this });
        new aws.iam.RolePolicyAttachment(`${name}-ssm-core`, {
            role: role.name,
            policyArn: ctx.apply((c) => `arn:${c.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore`),
        }, { parent: this });
        const profile = new aws.iam.InstanceProfile(`${name}-profile`, { role: role.name, tags: args.tags }, { parent: this });

        const securityGroup = new aws.ec2.SecurityGroup(`${name}-sg`, {
            vpcId: args.vpcId,
            description: "consistent-snapshots database host: no ingress (Session Manager), HTTPS out to AWS APIs",
            egress: [{ protocol: "tcp", fromPort: 443, toPort: 443, cidrBlocks: ["0.0.0.0/0"], description: "HTTPS to SSM, EC2, S3" }],
            tags: args.tags,
        }, { parent: this });

        const ami = aws.ssm.getParameterOutput({ name: AL2023_AMI_PARAMETERS[architecture] }, { parent: this });
        const instance = new aws.ec2.Instance(name, {
            ami: ami.value,
            instanceType: args.instanceType ?? "t3.micro",
            subnetId: args.subnetId,
            vpcSecurityGroupIds: [securityGroup.id],
            associatePublicIpAddress: args.associatePublicIpAddress ?? false,
            iamInstanceProfile: profile.name,
            metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1, instanceMetadataTags: "disabled" },
            rootBlockDevice: { encrypted: true, kmsKeyId: args.kmsKeyId, volumeType: "gp3", volumeSize: args.rootVolumeSizeGiB ?? 10 },
            ebsBlockDevices: [{
                deviceName: DATA_VOLUME_DEVICE_NAME, encrypted: true, kmsKeyId: args.kmsKeyId, volumeType: "gp3",
                volumeSize: args.dataVolumeSizeGiB ?? 20, deleteOnTermination: true,
            }],
            userData: readScript("mysql-host-user-data.sh"),
            userDataReplaceOnChange: true,
            tags: { ...args.tags, Name: name, ...this.targetTags },
            volumeTags: { ...args.tags, Name: name },
        }, { parent: this });

        // Declared after the instance so that CreateSnapshots is allowed on this instance's ARN only.
        new aws.iam.RolePolicy(`${name}-snapshot`, {
            role: role.id,
            policy: pulumi.all([ctx, instance.arn, args.logGroupArn]).apply(([c, instanceArn, logGroupArn]) =>
                JSON.stringify(snapshotInstancePolicy(c, { instanceArns: [instanceArn], tagKey, tagValues: [tagValue], logGroupArn }))),
        }, { parent: this });

        this.instanceId = instance.id;
        this.instanceArn = instance.arn;
        this.roleName = role.name;
        this.roleArn = role.arn;
        this.securityGroupId = securityGroup.id;
        this.registerOutputs({
            instanceId: this.instanceId, instanceArn: this.instanceArn, roleName: this.roleName,
            roleArn: this.roleArn, securityGroupId: this.securityGroupId,
        });
    }
}
