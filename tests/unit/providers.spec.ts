// Every component honours the provider it is given, for all its children and all its data sources (Region,
// partition, account, subnet, AMI parameter): what a program deploying into several Regions or accounts relies on.
// The mocked engine sees the provider reference of each registration and each invoke, and answers invokes with
// the Region and account of that provider (mocks.ts, providerContext).
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as assert from "node:assert/strict";
import { MysqlHost } from "../../components/mysqlHost";
import { Network } from "../../components/network";
import { SnapshotDocument } from "../../components/snapshotDocument";
import { SnapshotLifecyclePolicy } from "../../components/snapshotLifecyclePolicy";
import { SnapshotMaintenanceWindow } from "../../components/snapshotMaintenanceWindow";
import { ACCOUNT_ID, REGION, invokeCalls, ofType, one, resources, settle, useMocks, value } from "./mocks";

const OTHER_ACCOUNT = "444455556666";
const OTHER_REGION = "ap-southeast-2";

/** Declares every component with these options, as a user embedding them in another Region would. */
function everyComponent(opts: pulumi.ComponentResourceOptions) {
    const network = new Network("net", { mode: "private" }, opts);
    const window = new SnapshotMaintenanceWindow(
        "mw",
        {
            targets: [{ name: "dbs", tagValue: "MySQL", document: new SnapshotDocument("doc", {}, opts) }],
        },
        opts,
    );
    const host = new MysqlHost(
        "db",
        {
            vpcId: network.vpcId,
            subnetId: network.subnetIds.apply((ids) => ids[0]),
            logGroupArn: window.logGroupArn,
        },
        opts,
    );
    const dlm = new SnapshotLifecyclePolicy(
        "dlm",
        {
            document: new SnapshotDocument("dlm-doc", { tags: { DLMScriptsAccess: "true" } }, opts),
            tagValue: "MySQL",
            retainCount: 3,
        },
        opts,
    );
    return { network, window, host, dlm };
}

const TOKENS_EXPECTED = [
    "aws:index/getRegion:getRegion",
    "aws:index/getPartition:getPartition",
    "aws:index/getCallerIdentity:getCallerIdentity",
    "aws:ec2/getSubnet:getSubnet",
    "aws:ssm/getParameter:getParameter",
    "aws:ec2/getRouteTables:getRouteTables",
];

for (const [how, options] of [
    ["opts.provider", (p: aws.Provider) => ({ provider: p })],
    ["opts.providers", (p: aws.Provider) => ({ providers: { aws: p } })],
] as const) {
    describe(`components given a provider for another Region and account (${how})`, () => {
        let built: ReturnType<typeof everyComponent>;
        let reference: string;
        before(async () => {
            await useMocks("providers");
            const provider = new aws.Provider("sydney", {
                region: OTHER_REGION,
                assumeRoles: [{ roleArn: `arn:aws:iam::${OTHER_ACCOUNT}:role/deployer` }],
            });
            built = everyComponent(options(provider));
            await settle();
            const p = one("pulumi:providers:aws");
            reference = `${p.urn}::${p.id}`;
        });

        it("creates every AWS resource of every component through that provider", () => {
            const custom = resources.filter((r) => r.type.startsWith("aws:"));
            assert.ok(custom.length >= 40, `only ${custom.length} resources`);
            for (const r of custom) assert.equal(r.provider, reference, `${r.type} ${r.name}`);
        });

        it("passes it to awsx's Vpc explicitly (a remote component gets only the providers in its own registration)", () => {
            assert.equal(one("awsx:ec2:Vpc").providers.aws, reference);
        });

        it("makes every data-source call through it: Region, partition, account, subnet, route tables, AMI parameter", () => {
            const tokens = new Set(invokeCalls.map((c) => c.token));
            for (const token of TOKENS_EXPECTED) assert.ok(tokens.has(token), `${token} never called`);
            for (const call of invokeCalls) assert.equal(call.provider, reference, call.token);
        });

        it("puts that Region and account in the endpoints, policies and ARNs it builds", async () => {
            for (const e of ofType("aws:ec2/vpcEndpoint:VpcEndpoint")) assert.match(e.inputs.serviceName, new RegExp(`^com\\.amazonaws\\.${OTHER_REGION}\\.`));
            assert.equal(one("aws:ebs/volume:Volume").inputs.availabilityZone, `${OTHER_REGION}a`);
            const policies = await Promise.all(
                [...ofType("aws:iam/policy:Policy"), ...ofType("aws:iam/rolePolicy:RolePolicy"), ...ofType("aws:sns/topicPolicy:TopicPolicy")].map(
                    (p) => value(p.inputs.policy) as Promise<string>,
                ),
            );
            assert.ok(policies.length >= 6);
            for (const text of policies) {
                assert.doesNotMatch(text, new RegExp(`${ACCOUNT_ID}|:${REGION}:`), "the default provider's account or Region");
            }
            assert.match(await value(built.host.instanceArn), new RegExp(`^arn:aws:ec2:${OTHER_REGION}:${OTHER_ACCOUNT}:instance/`));
            const hostPolicy = (await value(ofType("aws:iam/rolePolicy:RolePolicy").find((p) => p.name === "db-snapshot")!.inputs.policy)) as string;
            assert.match(hostPolicy, new RegExp(`arn:aws:ec2:${OTHER_REGION}:${OTHER_ACCOUNT}:volume/\\*`));
        });
    });
}

describe("components without a provider", () => {
    it("use the stack's default provider (its aws:region) for resources and data sources alike", async () => {
        await useMocks("providers", { "aws:region": "eu-north-1" });
        everyComponent({});
        await settle();
        for (const r of resources.filter((x) => x.type.startsWith("aws:"))) assert.equal(r.provider, "", `${r.type} ${r.name}`);
        for (const call of invokeCalls) assert.deepEqual(call.context, { region: "eu-north-1", accountId: ACCOUNT_ID }, call.token);
        for (const e of ofType("aws:ec2/vpcEndpoint:VpcEndpoint")) assert.match(e.inputs.serviceName, /^com\.amazonaws\.eu-north-1\./);
        assert.deepEqual(one("awsx:ec2:Vpc").providers, {});
    });
});
