import * as aws from "@pulumi/aws";
import type * as awsxModule from "@pulumi/awsx";
import * as pulumi from "@pulumi/pulumi";
import { AccountContext, accountContext } from "./policies";

/**
 * Interface endpoints a private host needs: Session Manager / Run Command (ssm, ssmmessages, ec2messages), the
 * EC2 API (the snapshot script) and CloudWatch Logs (the SSM Agent uploads Run Command output itself).
 */
export const PRIVATE_INTERFACE_ENDPOINT_SERVICES = ["ssm", "ssmmessages", "ec2messages", "ec2", "logs"] as const;

/** What the hosts call through each endpoint that takes a policy: the script (ec2) and the SSM Agent (logs). */
export const HOST_ENDPOINT_ACTIONS = Object.freeze({
    ec2: ["ec2:CreateSnapshots", "ec2:CreateTags", "ec2:DeleteSnapshot", "ec2:DescribeInstances", "ec2:DescribeSnapshots"],
    logs: ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogGroups", "logs:DescribeLogStreams", "logs:PutLogEvents"],
});

/**
 * S3 buckets the hosts read through the gateway endpoint: Amazon Linux 2023's package repositories
 * (`al2023-repos-<region>-<id>`, which dnf reaches at `al2023-repos-<region>-<id>.s3.dualstack.<region>.amazonaws.com`)
 * and the buckets AWS lists for SSM Agent in private subnets (its updates, plugins, documents' attachments).
 */
export function hostS3Buckets(region: string): string[] {
    return [
        `al2023-repos-${region}-*`,
        `amazon-ssm-${region}`,
        `amazon-ssm-packages-${region}`,
        `${region}-birdwatcher-prod`,
        `aws-ssm-${region}`,
        `aws-ssm-distributor-file-${region}`,
        `aws-ssm-document-attachments-${region}`,
        `patch-baseline-snapshot-${region}`,
    ];
}

/**
 * The endpoint policy of a private network's `ec2`, `logs` or `s3` endpoint (Security Hub FSBP asks for endpoint
 * policies): only principals of this account, only the calls the hosts make (HOST_ENDPOINT_ACTIONS), and for S3
 * only reads of the buckets in `hostS3Buckets`. Stolen credentials of another account, or a host's own credentials
 * used for anything else, get no path out of the VPC through them. The `ssm`, `ssmmessages` and `ec2messages`
 * endpoints keep AWS's default policy: they carry the SSM Agent's own protocol, whose calls change with agent
 * versions, and an action missed there would silently end Run Command on every host.
 */
export function endpointPolicy(service: "ec2" | "logs" | "s3", ctx: AccountContext): string {
    const inAccount = { StringEquals: { "aws:PrincipalAccount": ctx.accountId } };
    const statement =
        service === "s3"
            ? { Sid: "ReadPackagesAndAgentFiles", Action: ["s3:GetObject"], Resource: hostS3Buckets(ctx.region).map((b) => `arn:${ctx.partition}:s3:::${b}/*`) }
            : {
                  Sid: service === "ec2" ? "SnapshotScript" : "RunCommandOutput",
                  Action: [...HOST_ENDPOINT_ACTIONS[service]],
                  Resource: "*",
                  Condition: inAccount,
              };
    return JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: "*", ...statement }] });
}

export interface NetworkArgs {
    /**
     * `public`: the seed's layout, a public subnet with an internet gateway and no NAT gateway; the host gets a
     * public IP to reach SSM and EC2. `private`: isolated subnets with no internet path; interface endpoints for
     * ssm, ssmmessages, ec2messages, ec2 and logs, and an S3 gateway endpoint (Amazon Linux 2023's package
     * repositories are served from S3), each endpoint that takes a policy limited to what the hosts call
     * (`endpointPolicy`). Default: `public`.
     */
    mode?: "public" | "private";
    /** IPv4 CIDR of the VPC. Default: `10.0.0.0/16`. AWS constraint: a /16 to /28 block. */
    cidrBlock?: string;
    /** Availability zones to spread subnets over. Default: 1 (the seed has one subnet). Each AZ adds endpoint cost in private mode. */
    availabilityZoneCount?: number;
    /**
     * Region of the endpoints' service names (`com.amazonaws.<region>.<service>`). Default: the Region of the
     * aws provider this component was given (`opts.provider`/`opts.providers`), else the stack's `aws:region`.
     */
    region?: pulumi.Input<string>;
    /** Tags for every resource. Default: none. */
    tags?: Record<string, string>;
}

/**
 * `@pulumi/awsx`, an optional peer dependency: loaded only when a Network is declared, so that a program using the
 * other components does not have to install it (it brings the Docker providers with it).
 */
function loadAwsx(): typeof awsxModule {
    try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        return require("@pulumi/awsx");
    } catch (error) {
        const missing = (error as NodeJS.ErrnoException).code === "MODULE_NOT_FOUND" && String((error as Error).message).includes("'@pulumi/awsx'");
        if (!missing) throw error;
        throw new Error(
            "consistent-snapshots: Network needs the package @pulumi/awsx (an optional peer dependency, ^3.9.0): " +
                "npm install @pulumi/awsx. The other components do not need it; give MysqlHost a subnet of your own VPC instead.",
        );
    }
}

/**
 * The network for the reference database host: an awsx VPC without NAT gateways, public or private.
 * Bring your own VPC instead by giving MysqlHost a subnet id.
 */
export class Network extends pulumi.ComponentResource {
    /** The VPC's id. */
    public readonly vpcId: pulumi.Output<string>;
    /**
     * Subnets the host is placed in: public subnets in `public` mode, isolated subnets in `private` mode. In
     * `private` mode the ids resolve only once every endpoint exists, and carry those endpoints as
     * dependencies: an instance launched in them does not boot (and run its user data) before its network path.
     */
    public readonly subnetIds: pulumi.Output<string[]>;
    /** The interface endpoints' ids (`private` mode only), by service. */
    public readonly interfaceEndpointIds?: pulumi.Output<Record<string, string>>;
    /** Whether instances in `subnetIds` need a public IP to reach AWS APIs. */
    public readonly mode: "public" | "private";
    /** The security group of the interface endpoints (`private` mode only). */
    public readonly endpointSecurityGroupId?: pulumi.Output<string>;

    constructor(name: string, args: NetworkArgs = {}, opts?: pulumi.ComponentResourceOptions) {
        super("consistent-snapshots:index:Network", name, args, opts);
        this.mode = args.mode ?? "public";
        const cidrBlock = args.cidrBlock ?? "10.0.0.0/16";
        const isPrivate = this.mode === "private";
        const region = args.region ?? aws.getRegionOutput({}, { parent: this }).region;
        // awsx's Vpc is a remote component: it receives only the providers passed to it explicitly, not the ones
        // this component inherited, and would otherwise build its subnets with the default provider's Region.
        const awsProvider = this.getProvider("aws::");

        const awsx = loadAwsx();
        const vpc = new awsx.ec2.Vpc(
            name,
            {
                cidrBlock,
                numberOfAvailabilityZones: args.availabilityZoneCount ?? 1,
                enableDnsHostnames: true,
                enableDnsSupport: true,
                subnetStrategy: "Auto",
                subnetSpecs: [{ type: isPrivate ? "Isolated" : "Public", cidrMask: 24 }],
                // awsx defaults to a NAT gateway per AZ; neither mode wants one.
                natGateways: { strategy: "None" },
                tags: args.tags,
            },
            { parent: this, ...(awsProvider ? { providers: [awsProvider] } : {}) },
        );

        this.vpcId = vpc.vpcId;
        this.subnetIds = vpc.publicSubnetIds;

        if (isPrivate) {
            // Amazon Linux 2023's package repositories are in S3: a gateway endpoint on every route table of the
            // VPC (awsx's own endpoint specs take only a literal service name, and the Region may be an output).
            const ctx = pulumi.all([accountContext(this), region]).apply(([c, r]) => ({ ...c, region: r }));
            const s3Endpoint = new aws.ec2.VpcEndpoint(
                `${name}-s3`,
                {
                    vpcId: vpc.vpcId,
                    serviceName: pulumi.interpolate`com.amazonaws.${region}.s3`,
                    vpcEndpointType: "Gateway",
                    policy: ctx.apply((c) => endpointPolicy("s3", c)),
                    routeTableIds: aws.ec2.getRouteTablesOutput({ vpcId: vpc.vpcId }, { parent: this }).ids,
                    tags: args.tags,
                },
                { parent: this },
            );
            // Interface endpoints are declared here rather than in vpcEndpointSpecs so that they get their own
            // security group (the VPC's default group would not admit the host's group).
            const endpointSecurityGroup = new aws.ec2.SecurityGroup(
                `${name}-endpoints`,
                {
                    vpcId: vpc.vpcId,
                    description: "HTTPS from the VPC to the SSM, EC2 and CloudWatch Logs interface endpoints",
                    ingress: [{ protocol: "tcp", fromPort: 443, toPort: 443, cidrBlocks: [cidrBlock], description: "HTTPS from the VPC" }],
                    tags: args.tags,
                },
                { parent: this },
            );
            this.endpointSecurityGroupId = endpointSecurityGroup.id;
            const endpoints = PRIVATE_INTERFACE_ENDPOINT_SERVICES.map(
                (service) =>
                    new aws.ec2.VpcEndpoint(
                        `${name}-${service}`,
                        {
                            vpcId: vpc.vpcId,
                            serviceName: pulumi.interpolate`com.amazonaws.${region}.${service}`,
                            vpcEndpointType: "Interface",
                            privateDnsEnabled: true,
                            policy: service === "ec2" || service === "logs" ? ctx.apply((c) => endpointPolicy(service, c)) : undefined,
                            subnetIds: vpc.isolatedSubnetIds,
                            securityGroupIds: [endpointSecurityGroup.id],
                            tags: args.tags,
                        },
                        { parent: this },
                    ),
            );
            this.interfaceEndpointIds = pulumi
                .all(endpoints.map((e) => e.id))
                .apply((ids) => Object.fromEntries(PRIVATE_INTERFACE_ENDPOINT_SERVICES.map((service, i) => [service, ids[i]])));
            // The awsx VPC (a remote component) completes with its route tables, so depending on its outputs covers
            // those; the endpoints are joined in here.
            this.subnetIds = pulumi.all([vpc.isolatedSubnetIds, pulumi.all([s3Endpoint, ...endpoints].map((e) => e.id))]).apply(([ids]) => ids);
        }
        this.registerOutputs({ vpcId: this.vpcId, subnetIds: this.subnetIds, interfaceEndpointIds: this.interfaceEndpointIds });
    }
}
