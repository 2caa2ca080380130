import * as aws from "@pulumi/aws";
import * as assert from "node:assert/strict";
import { HOST_ENDPOINT_ACTIONS, Network, PRIVATE_INTERFACE_ENDPOINT_SERVICES } from "../../components/network";
import { lifecyclePolicyInstancePolicy, snapshotInstancePolicy } from "../../components/policies";
import { ACCOUNT_ID, REGION, inventory, ofType, one, settle, useMocks, value } from "./mocks";

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
            assert.deepEqual(
                endpoints.map((e) => e.inputs.serviceName).sort(),
                PRIVATE_INTERFACE_ENDPOINT_SERVICES.map((s) => `com.amazonaws.${REGION}.${s}`).sort(),
            );
            const sg = one("aws:ec2/securityGroup:SecurityGroup");
            for (const e of endpoints) {
                assert.equal(e.inputs.vpcEndpointType, "Interface");
                assert.equal(e.inputs.privateDnsEnabled, true);
                assert.deepEqual(e.inputs.subnetIds, ["subnet-isolated-a"]);
                assert.deepEqual(e.inputs.securityGroupIds, [sg.id]);
                assert.equal(e.inputs.vpcId, "vpc-0123");
            }
        });

        it("limits the ec2 and logs endpoints to this account's principals and the calls the hosts make (the script; the SSM Agent's output)", () => {
            const endpoints = ofType("aws:ec2/vpcEndpoint:VpcEndpoint");
            for (const service of ["ec2", "logs"] as const) {
                const endpoint = endpoints.find((e) => e.inputs.serviceName === `com.amazonaws.${REGION}.${service}`)!;
                assert.deepEqual(JSON.parse(endpoint.inputs.policy), {
                    Version: "2012-10-17",
                    Statement: [
                        {
                            Effect: "Allow",
                            Principal: "*",
                            Sid: service === "ec2" ? "SnapshotScript" : "RunCommandOutput",
                            Action: [...HOST_ENDPOINT_ACTIONS[service]],
                            Resource: "*",
                            Condition: { StringEquals: { "aws:PrincipalAccount": ACCOUNT_ID } },
                        },
                    ],
                });
            }
        });

        it("names in HOST_ENDPOINT_ACTIONS exactly the ec2 and logs actions the hosts' instance policies grant (DLM's post-script and retention included)", () => {
            const ctx = { partition: "aws", region: REGION, accountId: ACCOUNT_ID };
            const granted = [
                snapshotInstancePolicy(ctx, {
                    tagKey: "K",
                    tagValues: ["v"],
                    tagLifecyclePolicySnapshots: true,
                    logGroupArn: `arn:aws:logs:${REGION}:${ACCOUNT_ID}:log-group:g`,
                }),
                lifecyclePolicyInstancePolicy(ctx, { tagKey: "K", tagValues: ["v"] }),
            ].flatMap((policy) => policy.Statement.flatMap((st) => st.Action));
            for (const service of ["ec2", "logs"] as const) {
                assert.deepEqual([...new Set(granted.filter((a) => a.startsWith(`${service}:`)))].sort(), [...HOST_ENDPOINT_ACTIONS[service]].sort(), service);
            }
        });

        it("lets the S3 gateway endpoint only read AL2023's package repositories and SSM Agent's buckets of this Region", () => {
            const s3 = ofType("aws:ec2/vpcEndpoint:VpcEndpoint").find((e) => e.inputs.vpcEndpointType === "Gateway")!;
            const [statement, ...more] = JSON.parse(s3.inputs.policy).Statement;
            assert.deepEqual(more, []);
            assert.deepEqual(statement.Action, ["s3:GetObject"]);
            assert.equal(statement.Principal, "*", "dnf reads the repositories unsigned: no principal condition can hold");
            assert.ok(statement.Resource.includes(`arn:aws:s3:::al2023-repos-${REGION}-*/*`));
            for (const resource of statement.Resource) assert.match(resource, new RegExp(`^arn:aws:s3:::[a-z0-9-]*${REGION}[a-z0-9*-]*/\\*$`));
        });

        it("keeps AWS's default policy on the SSM Agent's own endpoints (ssm, ssmmessages, ec2messages)", () => {
            for (const service of ["ssm", "ssmmessages", "ec2messages"]) {
                const endpoint = ofType("aws:ec2/vpcEndpoint:VpcEndpoint").find((e) => e.inputs.serviceName === `com.amazonaws.${REGION}.${service}`)!;
                assert.equal(endpoint.inputs.policy, undefined, service);
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
            const probe = new aws.ec2.SecurityGroup("probe", {
                vpcId: "vpc-0123",
                description: "probe",
                tags: { subnet: network.subnetIds.apply((ids) => ids[0]) },
            });
            await settle();
            const { dependencies } = ofType("aws:ec2/securityGroup:SecurityGroup").find((r) => r.name === "probe")!;
            for (const endpoint of ofType("aws:ec2/vpcEndpoint:VpcEndpoint")) assert.ok(dependencies.includes(endpoint.urn), endpoint.name);
            assert.ok(dependencies.includes(one("awsx:ec2:Vpc").urn));
            assert.ok(probe);
        });
    });
});
