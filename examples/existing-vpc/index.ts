// A project that already has its network and database servers adds consistent snapshots of them: one SSM
// document and one maintenance-window bundle, connected to its instances by a tag only.
//
// Everything above "What consistent-snapshots adds" stands for what such a project already has, written so that
// it deploys as it is: a private VPC whose hosts reach AWS through VPC endpoints (no internet path), and two
// MariaDB servers on Amazon Linux 2023, each with its database on its own EBS volume. README.md lists what is
// created and what it costs. Run it from this directory: see README.md.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import {
    AL2023_AMI_PARAMETERS,
    DATA_VOLUME_DEVICE_NAME,
    PRIVATE_INTERFACE_ENDPOINT_SERVICES,
    SnapshotDocument,
    SnapshotMaintenanceWindow,
    mysqlHostUserData,
} from "consistent-snapshots";

const config = new pulumi.Config();
/** How many database servers to run. */
const databaseCount = config.getNumber("databaseCount") ?? 2;
const instanceType = config.get("instanceType") ?? "t3.small";
const tagKey = "Backup";
const tagValue = "orders-db";
const cidrBlock = "10.42.0.0/16";
const tags = { Project: "orders" };

// ---- The project's network: one private subnet, no internet gateway, no NAT gateway.
const vpc = new aws.ec2.Vpc("orders", {
    cidrBlock,
    // Interface endpoints' private DNS names need both.
    enableDnsHostnames: true,
    enableDnsSupport: true,
    tags: { ...tags, Name: "orders" },
});
const zone = aws.getAvailabilityZonesOutput({ state: "available" }).names.apply((names) => names[0]);
const subnet = new aws.ec2.Subnet("orders-db", {
    vpcId: vpc.id,
    cidrBlock: "10.42.1.0/24",
    availabilityZone: zone,
    tags: { ...tags, Name: "orders-db" },
});
const routeTable = new aws.ec2.RouteTable("orders-db", { vpcId: vpc.id, tags: { ...tags, Name: "orders-db" } });
const routeTableAssociation = new aws.ec2.RouteTableAssociation("orders-db", { subnetId: subnet.id, routeTableId: routeTable.id });
const region = aws.getRegionOutput().region;

// The hosts reach AWS through VPC endpoints rather than a NAT gateway: the database servers get no path to the
// internet at all, and nothing is billed per GB of snapshot API and log traffic through a NAT. A project whose
// subnets already route through a NAT gateway needs none of the endpoints below.
const hostSecurityGroup = new aws.ec2.SecurityGroup("orders-db", {
    vpcId: vpc.id,
    description: "Database hosts: no inbound; HTTPS out to the VPC endpoints and S3",
    egress: [{ protocol: "tcp", fromPort: 443, toPort: 443, cidrBlocks: ["0.0.0.0/0"], description: "HTTPS to AWS APIs" }],
    tags,
});
const endpointSecurityGroup = new aws.ec2.SecurityGroup("orders-endpoints", {
    vpcId: vpc.id,
    description: "HTTPS from the database hosts to the SSM, EC2 and CloudWatch Logs endpoints",
    ingress: [{ protocol: "tcp", fromPort: 443, toPort: 443, securityGroups: [hostSecurityGroup.id], description: "HTTPS from the database hosts" }],
    tags,
});
// Amazon Linux 2023's package repositories are in S3 (the hosts install MariaDB at first boot).
const s3Endpoint = new aws.ec2.VpcEndpoint("orders-s3", {
    vpcId: vpc.id,
    serviceName: pulumi.interpolate`com.amazonaws.${region}.s3`,
    vpcEndpointType: "Gateway",
    routeTableIds: [routeTable.id],
    tags,
});
// Run Command (ssm, ssmmessages, ec2messages), the snapshot API (ec2) and Run Command output (logs).
const interfaceEndpoints = PRIVATE_INTERFACE_ENDPOINT_SERVICES.map(
    (service) =>
        new aws.ec2.VpcEndpoint(`orders-${service}`, {
            vpcId: vpc.id,
            serviceName: pulumi.interpolate`com.amazonaws.${region}.${service}`,
            vpcEndpointType: "Interface",
            privateDnsEnabled: true,
            subnetIds: [subnet.id],
            securityGroupIds: [endpointSecurityGroup.id],
            tags,
        }),
);

// ---- The project's database servers, with their own role.
const role = new aws.iam.Role("orders-db", {
    assumeRolePolicy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
    }),
    tags,
});
new aws.iam.RolePolicyAttachment("orders-db-ssm", {
    role: role.name,
    policyArn: aws.getPartitionOutput().partition.apply((p) => `arn:${p}:iam::aws:policy/AmazonSSMManagedInstanceCore`),
});
const profile = new aws.iam.InstanceProfile("orders-db", { role: role.name, tags });
const ami = aws.ssm.getParameterOutput({ name: AL2023_AMI_PARAMETERS.x86_64 });

const databases = Array.from({ length: databaseCount }, (_, n) => {
    const name = `orders-db-${n + 1}`;
    // The database lives on its own volume: a new AMI or a replaced instance keeps it.
    const dataVolume = new aws.ebs.Volume(`${name}-data`, {
        availabilityZone: zone,
        size: 20,
        type: "gp3",
        encrypted: true,
        tags: { ...tags, Name: `${name}-data` },
    });
    const instance = new aws.ec2.Instance(
        name,
        {
            ami: ami.value,
            instanceType,
            subnetId: subnet.id,
            vpcSecurityGroupIds: [hostSecurityGroup.id],
            iamInstanceProfile: profile.name,
            metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1, instanceMetadataTags: "disabled" },
            rootBlockDevice: { encrypted: true, volumeType: "gp3", volumeSize: 10, tags: { ...tags, Name: `${name}-root` } },
            // consistent-snapshots' host bootstrap: installs MariaDB with its datadir and binlog on the data volume
            // (found by its id) and the snapshot script's database account.
            userData: dataVolume.id.apply((dataVolumeId) => mysqlHostUserData({ dataVolumeId, binlogExpireDays: 7 })),
            userDataReplaceOnChange: true,
            tags: { ...tags, Name: name, [tagKey]: tagValue },
        },
        {
            // Boot only once the hosts can reach S3 (packages) and SSM; keep the host when a newer AMI appears.
            dependsOn: [routeTableAssociation, s3Endpoint, ...interfaceEndpoints],
            ignoreChanges: ["ami"],
        },
    );
    // A replaced instance gets the volume after the old one is stopped (MariaDB shuts down cleanly) and detached.
    new aws.ec2.VolumeAttachment(
        `${name}-data`,
        {
            instanceId: instance.id,
            volumeId: dataVolume.id,
            deviceName: DATA_VOLUME_DEVICE_NAME,
            stopInstanceBeforeDetaching: true,
        },
        { deleteBeforeReplace: true },
    );
    return instance;
});

// ---- What consistent-snapshots adds.
const document = new SnapshotDocument("orders-db-snapshot", { tags });
const snapshots = new SnapshotMaintenanceWindow("orders-db-snapshots", {
    schedule: "cron(15 3 ? * * *)",
    scheduleTimezone: "America/New_York",
    tagKey,
    targets: [
        {
            name: "orders",
            tagValue,
            document,
            maxConcurrency: "1",
            maxErrors: "0",
            parameters: { maxFreezeSeconds: "20", retainCount: "14" },
        },
    ],
    alertEmail: config.get("alertEmail") || undefined,
    tags,
});
// The instances' own role gets exactly what the snapshot script calls.
new aws.iam.RolePolicyAttachment("orders-db-snapshots", { role: role.name, policyArn: snapshots.instancePolicyArn });

export const vpcId = vpc.id;
export const maintenanceWindowId = snapshots.maintenanceWindowId;
export const documentName = document.documentName;
export const alertTopicArn = snapshots.alertTopicArn;
export const logGroupName = snapshots.logGroupName;
export const databaseInstanceIds = databases.map((d) => d.id);
