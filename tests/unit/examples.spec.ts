// The programs under examples/ as a user deploys them: each is run in the mocked runtime from its own directory
// (its project name, its stack files, "consistent-snapshots" linked as `npm install` links it) and what it
// declares is checked as AWS will see it. Their requests are also checked against AWS's API models
// (aws-api-models.spec.ts).
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { PRIVATE_INTERFACE_ENDPOINT_SERVICES } from "../../components/network";
import { EXAMPLES_DIR, exampleStackConfig, linkLibrary, runExample, typeErrors } from "./examples";
import { ACCOUNT_ID, REPO_ROOT, RecordedResource, inventory, invokeCalls, ofType, one, providerContext, resources, value } from "./mocks";

/** Registered AWS resources (not components, not providers). */
const awsResources = () => resources.filter((r) => r.type.startsWith("aws:"));
const regionOf = (r: RecordedResource) => r.context.region;

describe("examples/existing-vpc (brings its own private VPC and MariaDB hosts)", () => {
    before(async () => {
        await runExample("existing-vpc", "dev", { alertEmail: "dba@example.com" });
    });

    it("adds only the document and the window bundle: no network or host component of ours", () => {
        const counts = inventory();
        assert.equal(counts["consistent-snapshots:index:SnapshotDocument"], 1);
        assert.equal(counts["consistent-snapshots:index:SnapshotMaintenanceWindow"], 1);
        assert.equal(counts["consistent-snapshots:index:Network"], undefined);
        assert.equal(counts["consistent-snapshots:index:MysqlHost"], undefined);
        assert.equal(counts["awsx:ec2:Vpc"], undefined);
        assert.equal(counts["aws:ec2/instance:Instance"], 2);
    });

    it("gives its hosts a path to SSM, EC2, CloudWatch Logs and S3 through VPC endpoints, and none to the internet", () => {
        assert.equal(ofType("aws:ec2/internetGateway:InternetGateway").length, 0);
        assert.equal(ofType("aws:ec2/natGateway:NatGateway").length, 0);
        assert.equal(ofType("aws:ec2/route:Route").length, 0);
        const vpc = one("aws:ec2/vpc:Vpc").inputs;
        assert.deepEqual([vpc.enableDnsHostnames, vpc.enableDnsSupport], [true, true], "private DNS of interface endpoints needs both");
        const subnet = one("aws:ec2/subnet:Subnet");
        const routeTable = one("aws:ec2/routeTable:RouteTable");
        assert.deepEqual(one("aws:ec2/routeTableAssociation:RouteTableAssociation").inputs, { subnetId: subnet.id, routeTableId: routeTable.id });
        const endpoints = ofType("aws:ec2/vpcEndpoint:VpcEndpoint");
        const gateway = endpoints.filter((e) => e.inputs.vpcEndpointType === "Gateway");
        assert.deepEqual(
            gateway.map((e) => [e.inputs.serviceName, e.inputs.routeTableIds]),
            [["com.amazonaws.us-east-1.s3", [routeTable.id]]],
        );
        const interfaces = endpoints.filter((e) => e.inputs.vpcEndpointType === "Interface");
        assert.deepEqual(
            interfaces.map((e) => e.inputs.serviceName).sort(),
            PRIVATE_INTERFACE_ENDPOINT_SERVICES.map((s) => `com.amazonaws.us-east-1.${s}`).sort(),
        );
        const endpointGroup = ofType("aws:ec2/securityGroup:SecurityGroup").find((g) => g.name === "orders-endpoints")!;
        const hostGroup = ofType("aws:ec2/securityGroup:SecurityGroup").find((g) => g.name === "orders-db")!;
        for (const e of interfaces) {
            assert.deepEqual([e.inputs.privateDnsEnabled, e.inputs.subnetIds, e.inputs.securityGroupIds], [true, [subnet.id], [endpointGroup.id]]);
        }
        assert.deepEqual(
            endpointGroup.inputs.ingress.map((r: Record<string, unknown>) => [r.protocol, r.fromPort, r.toPort, r.securityGroups]),
            [["tcp", 443, 443, [hostGroup.id]]],
        );
        assert.equal(hostGroup.inputs.ingress, undefined, "the hosts admit nothing");
    });

    it("keeps each database on its own encrypted volume in the subnet's zone, found by the user data by its id", () => {
        const zone = one("aws:ec2/subnet:Subnet").inputs.availabilityZone;
        assert.equal(zone, "us-east-1a");
        for (const instance of ofType("aws:ec2/instance:Instance")) {
            const attachment = ofType("aws:ec2/volumeAttachment:VolumeAttachment").find((a) => a.inputs.instanceId === instance.id)!;
            const volume = ofType("aws:ebs/volume:Volume").find((v) => v.id === attachment.inputs.volumeId)!;
            assert.deepEqual([volume.inputs.availabilityZone, volume.inputs.encrypted, volume.inputs.type], [zone, true, "gp3"]);
            assert.match(instance.inputs.userData, new RegExp(`^export DATA_VOLUME_ID=${volume.id} BINLOG_EXPIRE_DAYS=7$`, "m"));
            assert.deepEqual(
                [attachment.inputs.deviceName, attachment.inputs.stopInstanceBeforeDetaching, attachment.options.deleteBeforeReplace],
                ["/dev/sdf", true, true],
            );
            assert.deepEqual(instance.options.ignoreChanges, ["ami"]);
            assert.equal(instance.inputs.associatePublicIpAddress, undefined);
            assert.equal(instance.inputs.metadataOptions.httpTokens, "required");
        }
    });

    it("boots each host only once its network path exists (the user data installs MariaDB through S3; the agent registers through SSM)", () => {
        const needed = [...ofType("aws:ec2/vpcEndpoint:VpcEndpoint"), one("aws:ec2/routeTableAssociation:RouteTableAssociation")];
        for (const instance of ofType("aws:ec2/instance:Instance")) {
            for (const n of needed) assert.ok(instance.dependencies.includes(n.urn), `${instance.name} does not wait for ${n.name}`);
        }
    });

    it("targets its own instances by their tag", () => {
        const [target] = one("aws:ssm/maintenanceWindowTarget:MaintenanceWindowTarget").inputs.targets;
        for (const instance of ofType("aws:ec2/instance:Instance")) {
            assert.deepEqual(target, { key: "tag:Backup", values: [instance.inputs.tags.Backup] });
        }
    });

    it("attaches the bundle's instance policy and AmazonSSMManagedInstanceCore to its own role, and mails alerts", async () => {
        const attachments = ofType("aws:iam/rolePolicyAttachment:RolePolicyAttachment");
        const policy = one("aws:iam/policy:Policy");
        const role = ofType("aws:iam/role:Role").find((r) => r.name === "orders-db")!;
        assert.deepEqual(
            attachments.map((a) => [a.name, a.inputs.role, a.inputs.policyArn]),
            [
                ["orders-db-snapshots", `${role.name}-a1b2c3`, `arn:aws:mock:us-east-1:${ACCOUNT_ID}:aws:iam/policy:Policy/${policy.name}`],
                ["orders-db-ssm", `${role.name}-a1b2c3`, "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"],
            ],
        );
        assert.equal(one("aws:iam/instanceProfile:InstanceProfile").inputs.role, `${role.name}-a1b2c3`);
        assert.equal(one("aws:sns/topicSubscription:TopicSubscription").inputs.endpoint, "dba@example.com");
        assert.equal(await value(one("aws:ssm/maintenanceWindow:MaintenanceWindow").inputs.schedule), "cron(15 3 ? * * *)");
    });

    it("takes the number of hosts and their type from config", async () => {
        await runExample("existing-vpc", "dev", { databaseCount: "3", instanceType: "m7i.large" });
        assert.deepEqual(
            ofType("aws:ec2/instance:Instance").map((i) => i.inputs.instanceType),
            ["m7i.large", "m7i.large", "m7i.large"],
        );
        assert.equal(ofType("aws:ebs/volume:Volume").length, 3);
        assert.equal(ofType("aws:sns/topicSubscription:TopicSubscription").length, 0, "no alertEmail, no subscription");
    });
});

describe("examples/multi-region (one program, a provider per Region, one stack per account)", () => {
    /** The explicit providers the program registered, by reference, with the Region and account they work in. */
    const providers = () =>
        new Map(
            ofType("pulumi:providers:aws").map((p) => {
                const reference = `${p.urn}::${p.id}`;
                return [reference, { name: p.name, ...providerContext(reference) }];
            }),
        );

    describe("Pulumi.prod.yaml (maintenance windows in eu-west-1 and us-east-1, account 444455556666 by assumed role)", () => {
        before(async () => {
            await runExample("multi-region", "prod");
        });

        it("registers one provider per Region, assuming the stack's role and allowed only in its account", () => {
            const registered = ofType("pulumi:providers:aws");
            assert.deepEqual(
                registered.map((p) => [p.name, p.inputs.region]),
                [
                    ["aws-eu-west-1", "eu-west-1"],
                    ["aws-us-east-1", "us-east-1"],
                ],
            );
            for (const p of registered) {
                const assumeRoles = typeof p.inputs.assumeRoles === "string" ? JSON.parse(p.inputs.assumeRoles) : p.inputs.assumeRoles;
                assert.equal(assumeRoles[0].roleArn, "arn:aws:iam::444455556666:role/consistent-snapshots-deployer");
                assert.equal(assumeRoles[0].sessionName, "consistent-snapshots-prod");
                const allowed = typeof p.inputs.allowedAccountIds === "string" ? JSON.parse(p.inputs.allowedAccountIds) : p.inputs.allowedAccountIds;
                assert.deepEqual(allowed, ["444455556666"]);
            }
        });

        it("declares the document, the window, its targets, task, roles and alerts in each Region, each through that Region's provider", () => {
            const byReference = providers();
            for (const r of awsResources()) {
                assert.ok(byReference.has(r.provider), `${r.type} ${r.name} is not created through an explicit provider (${r.provider || "default"})`);
            }
            for (const region of ["eu-west-1", "us-east-1"]) {
                const here = awsResources().filter((r) => regionOf(r) === region);
                const counts: Record<string, number> = {};
                for (const r of here) counts[r.type] = (counts[r.type] ?? 0) + 1;
                assert.deepEqual(
                    counts,
                    {
                        "aws:ssm/document:Document": 1,
                        "aws:ssm/maintenanceWindow:MaintenanceWindow": 1,
                        "aws:ssm/maintenanceWindowTarget:MaintenanceWindowTarget": 1,
                        "aws:ssm/maintenanceWindowTask:MaintenanceWindowTask": 1,
                        "aws:iam/role:Role": 1,
                        "aws:iam/rolePolicy:RolePolicy": 1,
                        "aws:iam/policy:Policy": 1,
                        "aws:cloudwatch/logGroup:LogGroup": 1,
                        "aws:cloudwatch/eventRule:EventRule": 3,
                        "aws:cloudwatch/eventTarget:EventTarget": 3,
                        "aws:cloudwatch/logMetricFilter:LogMetricFilter": 6,
                        "aws:cloudwatch/metricAlarm:MetricAlarm": 1,
                        "aws:cloudwatch/dashboard:Dashboard": 1,
                        "aws:kms/key:Key": 1,
                        "aws:sns/topic:Topic": 1,
                        "aws:sns/topicPolicy:TopicPolicy": 1,
                        "aws:sns/topicSubscription:TopicSubscription": 1,
                    },
                    region,
                );
                assert.ok(
                    here.every((r) => r.urn.includes(`-${region}`)),
                    `a resource in ${region} is named for another Region`,
                );
            }
        });

        it("makes every data-source call (Region, partition, account) through a Region's provider, never the default one", () => {
            assert.ok(invokeCalls.length >= 6);
            const byReference = providers();
            for (const call of invokeCalls) assert.ok(byReference.has(call.provider), `${call.token} made with ${call.provider || "the default provider"}`);
            for (const region of ["eu-west-1", "us-east-1"]) {
                const tokens = invokeCalls.filter((c) => c.context.region === region).map((c) => c.token);
                assert.ok(tokens.includes("aws:index/getRegion:getRegion") && tokens.includes("aws:index/getCallerIdentity:getCallerIdentity"), region);
            }
        });

        it("writes the assumed role's account and each Region into every policy, not the default provider's", async () => {
            const documents = await Promise.all([
                ...ofType("aws:iam/policy:Policy").map(async (p) => [regionOf(p), await value(p.inputs.policy)]),
                ...ofType("aws:iam/rolePolicy:RolePolicy").map(async (p) => [regionOf(p), await value(p.inputs.policy)]),
                ...ofType("aws:sns/topicPolicy:TopicPolicy").map(async (p) => [regionOf(p), await value(p.inputs.policy)]),
            ]);
            assert.equal(documents.length, 6);
            for (const [region, text] of documents) {
                assert.match(text, /444455556666/);
                assert.doesNotMatch(text, new RegExp(ACCOUNT_ID), "the default provider's account");
                const other = region === "eu-west-1" ? "us-east-1" : "eu-west-1";
                assert.doesNotMatch(text, new RegExp(`:${other}:`), `${region}'s policy names ${other}`);
            }
            const instancePolicy = JSON.parse((documents.find(([region, text]) => region === "eu-west-1" && text.includes("CreateSnapshots")) ?? [])[1]);
            const snapshotStatement = instancePolicy.Statement.find((s: { Sid: string }) => s.Sid === "SnapshotTaggedInstances");
            assert.equal(snapshotStatement.Resource, "arn:aws:ec2:eu-west-1:444455556666:instance/*");
        });

        it("alerts per Region: each Region's rules publish to that Region's own topic (EventBridge targets SNS in its Region only)", () => {
            for (const target of ofType("aws:cloudwatch/eventTarget:EventTarget")) {
                assert.match(
                    target.inputs.arn,
                    new RegExp(`^arn:aws:mock:${regionOf(target)}:444455556666:aws:sns/topic:Topic/snapshots-${regionOf(target)}-alerts$`),
                );
            }
            for (const subscription of ofType("aws:sns/topicSubscription:TopicSubscription")) {
                assert.equal(subscription.inputs.endpoint, "dba-oncall@example.com");
                assert.match(subscription.inputs.topic, new RegExp(`:${regionOf(subscription)}:`));
            }
        });

        it("gives no two resources the same name where AWS requires it unique (IAM and CloudWatch dashboards per account; the rest per account and Region)", () => {
            const urns = resources.map((r) => r.urn);
            assert.equal(new Set(urns).size, urns.length, "two resources share a URN");
            const seen = new Map<string, string>();
            for (const r of awsResources()) {
                // An explicit name, or Pulumi's auto-name: the resource's name, a dash and seven random hex digits.
                const name = r.inputs.name ?? r.inputs.dashboardName ?? `${r.name}-`;
                // PutDashboard: "All dashboards in your account are global, not region-specific."
                const global = r.type.startsWith("aws:iam/") || r.type === "aws:cloudwatch/dashboard:Dashboard";
                const scope = global ? `${r.context.accountId} (global)` : `${r.context.accountId} ${r.context.region}`;
                const key = `${scope} ${r.type} ${name}`;
                assert.ok(!seen.has(key), `${r.urn} and ${seen.get(key)} are both ${name} in ${scope}`);
                seen.set(key, r.urn);
                // IAM role names are at most 64 characters, the auto-name's suffix included.
                if (r.type === "aws:iam/role:Role") assert.ok(`${r.name}-1a2b3c4`.length <= 64, `${r.name} is too long to auto-name an IAM role`);
            }
        });

        it("exports, per Region, the document, the window, the hosts' policy and the alert topic", async () => {
            // eslint-disable-next-line @typescript-eslint/no-require-imports
            const program = require("../../examples/multi-region/index.ts");
            const outputs = program.byRegion;
            assert.deepEqual(Object.keys(outputs), ["eu-west-1", "us-east-1"]);
            assert.match(
                await value(outputs["us-east-1"].instancePolicyArn),
                /^arn:aws:mock:us-east-1:444455556666:aws:iam\/policy:Policy\/snapshots-us-east-1-instance$/,
            );
            assert.equal(await value(outputs["eu-west-1"].maintenanceWindowId), "snapshots-eu-west-1-id");
        });
    });

    describe("Pulumi.staging.yaml (Data Lifecycle Manager in eu-central-1, account 777788889999)", () => {
        before(async () => {
            await runExample("multi-region", "staging");
        });

        it("declares the DLM policy, its role, the DLM-tagged document and the alerts through the eu-central-1 provider", () => {
            assert.deepEqual(
                ofType("pulumi:providers:aws").map((p) => p.inputs.region),
                ["eu-central-1"],
            );
            assert.equal(ofType("aws:ssm/maintenanceWindow:MaintenanceWindow").length, 0);
            const policy = one("aws:dlm/lifecyclePolicy:LifecyclePolicy");
            assert.deepEqual(policy.context, { region: "eu-central-1", accountId: "777788889999" });
            assert.equal(one("aws:ssm/document:Document").inputs.tags.DLMScriptsAccess, "true");
            for (const r of awsResources()) assert.equal(regionOf(r), "eu-central-1", `${r.type} ${r.name}`);
            for (const call of invokeCalls) assert.deepEqual(call.context, { region: "eu-central-1", accountId: "777788889999" }, call.token);
        });

        it("lets DLM send the document only to instances in its own account and Region", async () => {
            const rolePolicy = await value(one("aws:iam/rolePolicy:RolePolicy").inputs.policy);
            assert.match(rolePolicy, /arn:aws:ec2:eu-central-1:777788889999:instance\/\*/);
            assert.doesNotMatch(rolePolicy, new RegExp(ACCOUNT_ID));
        });
    });

    describe("config errors name the key and the accepted form, before anything is declared", () => {
        const cases: [string, Record<string, string>, RegExp][] = [
            ["no regions", { regions: "[]" }, /multi-region-example:regions = \[\]: expected a non-empty list of Region names/],
            [
                "a bad Region",
                { regions: JSON.stringify(["eu-west-1", "Frankfurt"]) },
                /multi-region-example:regions .*expected a non-empty list of Region names/,
            ],
            ["a Region twice", { regions: JSON.stringify(["eu-west-1", "eu-west-1"]) }, /regions .*expected each Region once/],
            [
                "a role in another account",
                { regions: JSON.stringify(["eu-west-1"]), accountId: "444455556666", assumeRoleArn: "arn:aws:iam::999999999999:role/x" },
                /multi-region-example:assumeRoleArn = "arn:aws:iam::999999999999:role\/x": expected a role in the account named by accountId \(444455556666\)/,
            ],
            [
                "a scheduler that does not exist",
                { regions: JSON.stringify(["eu-west-1"]), scheduler: "cron" },
                /scheduler = "cron": expected maintenanceWindow or dlm/,
            ],
        ];
        for (const [what, config, message] of cases) {
            it(`refuses ${what}`, async () => {
                await assert.rejects(runExample("multi-region", "errors", config), message);
                assert.equal(awsResources().length, 0);
            });
        }
    });

    it("ships the account pattern's stack files: each names its account, a role in that account and its Regions", () => {
        for (const stack of ["prod", "staging"]) {
            const config = exampleStackConfig("multi-region", stack);
            const account = config["multi-region-example:accountId"];
            assert.match(account, /^\d{12}$/);
            assert.match(config["multi-region-example:assumeRoleArn"], new RegExp(`^arn:aws:iam::${account}:role/`));
            assert.ok(JSON.parse(config["multi-region-example:regions"]).length >= 1);
        }
    });
});

describe("each example stands alone (its own package.json, lockfile, tsconfig and TypeScript)", function () {
    this.timeout(120000);
    const examples = fs.readdirSync(EXAMPLES_DIR).filter((e) => fs.statSync(path.join(EXAMPLES_DIR, e)).isDirectory());
    const read = (example: string, file: string) => fs.readFileSync(path.join(EXAMPLES_DIR, example, file), "utf8");
    const rootPackage = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8"));

    it("finds both examples", () => assert.deepEqual(examples.sort(), ["existing-vpc", "multi-region"]));

    for (const example of examples) {
        it(`${example}: its lockfile is committed and matches its package.json, with its own TypeScript`, () => {
            const manifest = JSON.parse(read(example, "package.json"));
            const lock = JSON.parse(read(example, "package-lock.json"));
            assert.equal(lock.name, manifest.name);
            assert.deepEqual(lock.packages[""].dependencies, manifest.dependencies);
            assert.deepEqual(lock.packages[""].devDependencies, manifest.devDependencies);
            assert.equal(manifest.dependencies["consistent-snapshots"], "file:../..");
            assert.equal(manifest.devDependencies.typescript, rootPackage.devDependencies.typescript);
            assert.equal(manifest.devDependencies["@types/node"], rootPackage.devDependencies["@types/node"]);
            // The library's peers, from the example's own dependencies (one copy of each SDK).
            for (const sdk of ["@pulumi/pulumi", "@pulumi/aws"]) assert.ok(manifest.dependencies[sdk], `${example} does not depend on ${sdk}`);
            assert.equal(lock.packages["node_modules/consistent-snapshots"]?.resolved, "file:../..");
        });

        it(`${example}: installs the library as a packed copy (install-links), as a published package installs`, () => {
            assert.match(read(example, ".npmrc"), /^install-links=true$/m);
        });
    }

    it("use the same strict compiler settings, Pulumi's TypeScript template's", () => {
        const configs = examples.map((e) => JSON.parse(read(e, "tsconfig.json")));
        for (const config of configs) {
            assert.deepEqual(config, configs[0]);
            assert.deepEqual(config.files, ["index.ts"]);
            assert.equal(config.compilerOptions.strict, true);
            assert.equal(config.compilerOptions.moduleResolution, "node", "a consumer resolving the package's types field");
        }
    });

    it("type-check with their own tsconfig against the built library", () => {
        const errors = examples.flatMap((example) => {
            linkLibrary(example);
            return typeErrors(path.join(EXAMPLES_DIR, example, "tsconfig.json"), [path.join(EXAMPLES_DIR, example, "index.ts")]);
        });
        assert.deepEqual(errors, []);
    });
});

describe("the examples' lockfiles", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    for (const example of ["existing-vpc", "multi-region"]) {
        it(`${example}: records this package's dependencies as they are, so that npm ci there installs them (the operator CLI's SDK too)`, () => {
            const lock = JSON.parse(fs.readFileSync(path.join(EXAMPLES_DIR, example, "package-lock.json"), "utf8")) as {
                packages: Record<string, { dependencies?: Record<string, string>; version?: string }>;
            };
            const entry = lock.packages["node_modules/consistent-snapshots"];
            assert.deepEqual(entry.dependencies, pkg.dependencies, `stale: run npm install in examples/${example}`);
            for (const name of Object.keys(pkg.dependencies)) assert.ok(lock.packages[`node_modules/${name}`], `${name} is not in the lockfile`);
        });
    }
});
