// One program that puts consistent snapshots in several Regions of one account: in each Region the snapshot
// document, the schedule (a maintenance window, or a Data Lifecycle Manager policy) and an alert topic, all through
// an explicit aws.Provider for that Region. One stack per account: the stack's config names the Regions and the
// role to assume in that account (Pulumi.prod.yaml, Pulumi.staging.yaml). See README.md.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { SnapshotDocument, SnapshotLifecyclePolicy, SnapshotMaintenanceWindow } from "consistent-snapshots";

const config = new pulumi.Config();

/** A config error that names the key and the accepted form; thrown before any resource is declared. */
function refuse(key: string, value: unknown, accepted: string): never {
    throw new Error(`config ${pulumi.getProject()}:${key} = ${JSON.stringify(value)}: expected ${accepted}`);
}

const regions = config.requireObject<unknown>("regions");
if (!Array.isArray(regions) || regions.length === 0 || !regions.every((r) => typeof r === "string" && /^([a-z]+-){2,3}\d$/.test(r))) {
    refuse("regions", regions, "a non-empty list of Region names, e.g. [eu-west-1, us-east-1]");
}
if (new Set(regions).size !== regions.length) refuse("regions", regions, "each Region once");

const scheduler = config.get("scheduler") ?? "maintenanceWindow";
if (scheduler !== "maintenanceWindow" && scheduler !== "dlm") refuse("scheduler", scheduler, "maintenanceWindow or dlm");

// The account: a role to assume in it (from the credentials that run `pulumi up`), and the account id every
// provider must end up in (the provider refuses to act in any other).
const assumeRoleArn = config.get("assumeRoleArn");
const roleArnForm = /^arn:aws[a-z-]*:iam::(\d{12}):role\/[\w+=,.@/-]{1,512}$/;
if (assumeRoleArn !== undefined && !roleArnForm.test(assumeRoleArn))
    refuse("assumeRoleArn", assumeRoleArn, "an IAM role ARN, arn:aws:iam::<account>:role/<name>");
const accountId = config.get("accountId");
if (accountId !== undefined && !/^\d{12}$/.test(accountId)) refuse("accountId", accountId, "a 12-digit AWS account id");
if (assumeRoleArn && accountId && roleArnForm.exec(assumeRoleArn)![1] !== accountId) {
    refuse("assumeRoleArn", assumeRoleArn, `a role in the account named by accountId (${accountId})`);
}

const tagKey = config.get("tagKey") ?? "Backup";
const tagValue = config.get("tagValue") ?? "mysql";
const schedule = config.get("schedule") ?? "cron(15 3 ? * * *)";
const alertEmail = config.get("alertEmail") || undefined;
const tags = { Project: "consistent-snapshots", Stack: pulumi.getStack() };

interface RegionOutputs {
    documentName: pulumi.Output<string>;
    maintenanceWindowId?: pulumi.Output<string>;
    lifecyclePolicyId?: pulumi.Output<string>;
    /** Attach this managed policy to the instance role of the Region's database hosts. */
    instancePolicyArn: pulumi.Output<string>;
    alertTopicArn?: pulumi.Output<string>;
}

function snapshotsIn(region: string): RegionOutputs {
    const provider = new aws.Provider(`aws-${region}`, {
        region,
        assumeRoles: assumeRoleArn ? [{ roleArn: assumeRoleArn, sessionName: `consistent-snapshots-${pulumi.getStack()}` }] : undefined,
        allowedAccountIds: accountId ? [accountId] : undefined,
    });
    // Every component passes the provider to all its children and data sources (Region, account, partition).
    // Names carry the Region: IAM is global, and Pulumi names IAM roles and policies after these names.
    const opts = { provider };
    if (scheduler === "dlm") {
        const document = new SnapshotDocument(
            `snapshot-${region}`,
            {
                tags: { ...tags, DLMScriptsAccess: "true" },
                // DLM passes only command and executionId: the hold must last until its post-script arrives.
                parameterDefaults: { maxFreezeSeconds: "60" },
            },
            opts,
        );
        const policy = new SnapshotLifecyclePolicy(
            `snapshots-${region}`,
            {
                document,
                tagKey,
                tagValue,
                cronExpression: schedule,
                retainCount: 14,
                alertEmail,
                tags,
            },
            opts,
        );
        return {
            documentName: document.documentName,
            lifecyclePolicyId: policy.lifecyclePolicyId,
            instancePolicyArn: policy.instancePolicyArn,
            alertTopicArn: policy.alertTopicArn,
        };
    }
    const document = new SnapshotDocument(`snapshot-${region}`, { tags }, opts);
    const window = new SnapshotMaintenanceWindow(
        `snapshots-${region}`,
        {
            schedule,
            tagKey,
            alertEmail,
            tags,
            targets: [{ name: "main", tagValue, document, maxConcurrency: "10%", maxErrors: "1", parameters: { retainCount: "14" } }],
        },
        opts,
    );
    return {
        documentName: document.documentName,
        maintenanceWindowId: window.maintenanceWindowId,
        instancePolicyArn: window.instancePolicyArn,
        alertTopicArn: window.alertTopicArn,
    };
}

export const byRegion: Record<string, RegionOutputs> = Object.fromEntries(regions.map((region: string) => [region, snapshotsIn(region)]));
