import * as aws from "@pulumi/aws";
import * as assert from "node:assert/strict";
import { Network, PRIVATE_INTERFACE_ENDPOINT_SERVICES } from "../../components/network";
import { REGION, inventory, ofType, one, settle, useMocks, value } from "./mocks";

describe("Network", () => {
    describe("mode public (the seed's layout)", () => {
        let network: Network;
        before(async () => {
            await useMocks("test");
            network = new Network("net", { mode: "public" });
            await settle();
        });

        it("is one awsx Vpc with public subnets and no NAT gateway, and nothing else", () => {
            assert.deepEqual(inventory(), { "consistent-snapshots:index:Network": 1, "awsx:ec2:Vpc": 1 });
            const { inputs } = one("awsx:ec2:Vpc");
            assert.deepEqual(inputs.subnetSpecs, [{ type: "Public", cidrMask: 24 }]);
            assert.deepEqual(inputs.natGateways, { strategy: "None" });
            assert.equal(inputs.subnetStrategy, "Auto");
            assert.equal(inputs.numberOfAvailabilityZones, 1);
            assert.equal(inputs.enableDnsHostnames, true);
            assert.equal(inputs.vpcEndpointSpecs, undefined);
        });

        it("exports the VPC id and the public subnets", async () => {
            assert.equal(await value(network.vpcId), "vpc-0123");
            assert.deepEqual(await value(network.subnetIds), ["subnet-public-a"]);
        });
    });

    describe("mode private", () => {
        let network: Network;
        before(async () => {
            await useMocks("test");
            network = new Network("net", { mode: "private", cidrBlock: "10.20.0.0/16" });
            await settle();
        });

        it("uses isolated subnets and no NAT gateway", () => {
            const { inputs } = one("awsx:ec2:Vpc");
            assert.deepEqual(inputs.subnetSpecs, [{ type: "Isolated", cidrMask: 24 }]);
            assert.deepEqual(inputs.natGateways, { strategy: "None" });
        });

        it("adds an S3 gateway endpoint (AL2023's package repositories) on every route table of the VPC", () => {
            const s3 = ofType("aws:ec2/vpcEndpoint:VpcEndpoint").filter((e) => e.inputs.vpcEndpointType === "Gateway");
            assert.equal(s3.length, 1);
            assert.equal(s3[0].inputs.serviceName, `com.amazonaws.${REGION}.s3`);
            assert.deepEqual(s3[0].inputs.routeTableIds, ["rtb-main", "rtb-isolated-a"]);
            assert.equal(s3[0].inputs.vpcId, "vpc-0123");
        });

        it("adds interface endpoints for ssm, ssmmessages, ec2messages, ec2 and logs in the isolated subnets, private DNS on", () => {
            assert.deepEqual([...PRIVATE_INTERFACE_ENDPOINT_SERVICES], ["ssm", "ssmmessages", "ec2messages", "ec2", "logs"]);
            const endpoints = ofType("aws:ec2/vpcEndpoint:VpcEndpoint").filter((e) => e.inputs.vpcEndpointType === "Interface");
            assert.deepEqual(endpoints.map((e) => e.inputs.serviceName).sort(),
                PRIVATE_INTERFACE_ENDPOINT_SERVICES.map((s) => `com.amazonaws.${REGION}.${s}`).sort());
            const sg = one("aws:ec2/securityGroup:SecurityGroup");
            for (const e of endpoints) {
                assert.equal(e.inputs.vpcEndpointType, "Interface");
                assert.equal(e.inputs.privateDnsEnabled, true);
                assert.deepEqual(e.inputs.subnetIds, ["subnet-isolated-a"]);
                assert.deepEqual(e.inputs.securityGroupIds, [sg.id]);
                assert.equal(e.inputs.vpcId, "vpc-0123");
            }
        });

        it("lets only HTTPS from the VPC reach the endpoints", () => {
            const sg = one("aws:ec2/securityGroup:SecurityGroup");
            assert.equal(sg.inputs.ingress.length, 1);
            const [rule] = sg.inputs.ingress;
            assert.deepEqual([rule.protocol, rule.fromPort, rule.toPort, rule.cidrBlocks], ["tcp", 443, 443, ["10.20.0.0/16"]]);
        });

        it("exports the isolated subnets, and the interface endpoints' ids by service", async () => {
            assert.deepEqual(await value(network.subnetIds), ["subnet-isolated-a"]);
            assert.deepEqual(await value(network.interfaceEndpointIds), Object.fromEntries(PRIVATE_INTERFACE_ENDPOINT_SERVICES.map((s) => [s, `net-${s}-id`])));
        });

        it("hands out subnet ids that carry the endpoints as dependencies (a resource placed in them waits for its network path)", async () => {
            const probe = new aws.ec2.SecurityGroup("probe", { vpcId: "vpc-0123", description: "probe", tags: { subnet: network.subnetIds.apply((ids) => ids[0]) } });
            await settle();
            const { dependencies } = ofType("aws:ec2/securityGroup:SecurityGroup").find((r) => r.name === "probe")!;
            for (const endpoint of ofType("aws:ec2/vpcEndpoint:VpcEndpoint")) assert.ok(dependencies.includes(endpoint.urn), endpoint.name);
            assert.ok(dependencies.includes(one("awsx:ec2:Vpc").urn));
            assert.ok(probe);
        });
    });
});
