// A project that already has its network and database servers adds consistent snapshots of them: one SSM
// document and one maintenance-window bundle, connected to its instances by a tag only.
// Run it from this directory: npm install && npx pulumi up
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { SnapshotDocument, SnapshotMaintenanceWindow } from "consistent-snapshots";

const config = new pulumi.Config();
const tagKey = "Backup";
const tagValue = "orders-db";

// ---- What the project already has: its VPC, a subnet, a role and two MariaDB servers.
const vpc = new aws.ec2.Vpc("orders", { cidrBlock: "10.42.0.0/16", enableDnsHostnames: true, enableDnsSupport: true });
const subnet = new aws.ec2.Subnet("orders-db", { vpcId: vpc.id, cidrBlock: "10.42.1.0/24" });
const role = new aws.iam.Role("orders-db", {
    assumeRolePolicy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
    }),
});
new aws.iam.RolePolicyAttachment("orders-db-ssm", {
    role: role.name,
    policyArn: aws.getPartitionOutput().partition.apply((p) => `arn:${p}:iam::aws:policy/AmazonSSMManagedInstanceCore`),
});
const profile = new aws.iam.InstanceProfile("orders-db", { role: role.name });
const ami = aws.ec2.getAmiOutput({
    owners: ["amazon"], mostRecent: true, filters: [{ name: "name", values: ["al2023-ami-2023*-x86_64"] }],
});
const databases = [1, 2].map((i) => new aws.ec2.Instance(`orders-db-${i}`, {
    ami: ami.id,
    instanceType: "t3.small",
    subnetId: subnet.id,
    iamInstanceProfile: profile.name,
    metadataOptions: { httpTokens: "required" },
    rootBlockDevice: { encrypted: true },
    tags: { Name: `orders-db-${i}`, [tagKey]: tagValue },
}));

// ---- What consistent-snapshots adds.
const document = new SnapshotDocument("orders-db-snapshot");
const snapshots = new SnapshotMaintenanceWindow("orders-db-snapshots", {
    schedule: "cron(15 3 ? * * *)",
    scheduleTimezone: "America/New_York",
    tagKey,
    targets: [{
        name: "orders", tagValue, document, maxConcurrency: "1", maxErrors: "0",
        parameters: { maxFreezeSeconds: "20", retainCount: "14" },
    }],
    alertEmail: config.get("alertEmail"),
});
// The instances' own role gets exactly what the snapshot script calls.
new aws.iam.RolePolicyAttachment("orders-db-snapshots", { role: role.name, policyArn: snapshots.instancePolicyArn });

export const maintenanceWindowId = snapshots.maintenanceWindowId;
export const alertTopicArn = snapshots.alertTopicArn;
export const databaseInstanceIds = databases.map((d) => d.id);
