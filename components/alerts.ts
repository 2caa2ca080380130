import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { AccountContext } from "./policies";

// Failure alerts for snapshot runs: EventBridge rules on Systems Manager's own state-change events,
// routed to an SNS topic. Two rules because two things can fail:
//   - a command on an instance (the script failed, timed out, was cancelled, or never reached the agent):
//     "EC2 Command Invocation Status-change Notification", one event per instance, filtered by document;
//   - the maintenance window's task or execution itself (e.g. the service role may not send the command,
//     so no command ever exists): "Maintenance Window Task/Execution State-change Notification", by window.
// A task's own notificationConfig only reports command statuses, so it would miss the second kind.
/** Per-instance command statuses that mean the snapshot did not happen. */
export const FAILED_COMMAND_STATUSES = ["Failed", "TimedOut", "Cancelled", "Undeliverable", "Terminated", "DeliveryTimedOut", "ExecutionTimedOut"];
/** Maintenance-window statuses that mean runs did not happen or did not finish. */
export const FAILED_WINDOW_STATUSES = ["FAILED", "TIMED_OUT", "CANCELLED", "SKIPPED_OVERLAPPING"];

export function commandFailedPattern(documentNames: string[]): string {
    return JSON.stringify({
        source: ["aws.ssm"],
        "detail-type": ["EC2 Command Invocation Status-change Notification"],
        detail: { "document-name": documentNames, status: FAILED_COMMAND_STATUSES },
    });
}

export function windowFailedPattern(windowId: string): string {
    return JSON.stringify({
        source: ["aws.ssm"],
        "detail-type": ["Maintenance Window Task Execution State-change Notification", "Maintenance Window Execution State-change Notification"],
        detail: { "window-id": [windowId], status: FAILED_WINDOW_STATUSES },
    });
}

/** A human-readable message for the on-call engineer (EventBridge input transformer). */
export const COMMAND_FAILED_MESSAGE = {
    inputPaths: {
        status: "$.detail.status",
        instance: "$.detail.instance-id",
        command: "$.detail.command-id",
        document: "$.detail.document-name",
        time: "$.time",
        region: "$.region",
    },
    inputTemplate:
        '"consistent-snapshots: snapshot run <status> on instance <instance> at <time> (document <document>, ' +
        "command <command>, region <region>). Its output, ending in a JSON summary with the exit code, is in the " +
        "command's CloudWatch log group; `aws ssm get-command-invocation --command-id <command> --instance-id <instance>`.\"",
};

export const WINDOW_FAILED_MESSAGE = {
    inputPaths: { status: "$.detail.status", window: "$.detail.window-id", execution: "$.detail.window-execution-id", time: "$.time" },
    inputTemplate:
        '"consistent-snapshots: maintenance window <window> execution <execution> is <status> at <time>; ' +
        'no snapshot run may have started. `aws ssm describe-maintenance-window-execution-tasks --window-execution-id <execution>`."',
};

/** Topic policy: only these EventBridge rules may publish (plus the account's own administration). */
export function alertTopicPolicy(topicArn: string, ruleArns: string[], ctx: AccountContext): string {
    return JSON.stringify({
        Version: "2012-10-17",
        Statement: [
            {
                Sid: "SnapshotFailureRulesPublish",
                Effect: "Allow",
                Principal: { Service: "events.amazonaws.com" },
                Action: ["sns:Publish"],
                Resource: topicArn,
                Condition: { ArnEquals: { "aws:SourceArn": ruleArns } },
            },
            {
                Sid: "AccountManagesTopic",
                Effect: "Allow",
                Principal: { AWS: `arn:${ctx.partition}:iam::${ctx.accountId}:root` },
                Action: [
                    "sns:GetTopicAttributes",
                    "sns:SetTopicAttributes",
                    "sns:Subscribe",
                    "sns:ListSubscriptionsByTopic",
                    "sns:DeleteTopic",
                    "sns:TagResource",
                    "sns:UntagResource",
                ],
                Resource: topicArn,
            },
        ],
    });
}

/**
 * Key policy of the KMS key that encrypts a created alert topic (Security Hub SNS.1): the account administers it
 * through IAM (the key policy AWS gives every new key, without which the key could lock its owners out), and
 * EventBridge, the only publisher, may make the data keys SNS encrypts each message with (AWS's "Amazon SNS
 * topic encryption" with EventBridge as the publisher: kms:GenerateDataKey* and kms:Decrypt). The topic policy
 * still admits only this stack's rules.
 */
export function alertTopicKeyPolicy(partition: string, accountId: string): string {
    return JSON.stringify({
        Version: "2012-10-17",
        Statement: [
            {
                Sid: "AccountAdministersKeyThroughIam",
                Effect: "Allow",
                Principal: { AWS: `arn:${partition}:iam::${accountId}:root` },
                Action: "kms:*",
                Resource: "*",
            },
            {
                Sid: "EventBridgePublishesEncrypted",
                Effect: "Allow",
                Principal: { Service: "events.amazonaws.com" },
                Action: ["kms:GenerateDataKey*", "kms:Decrypt"],
                Resource: "*",
            },
        ],
    });
}

/** The DLM policy went into its error state (its role lacks a permission, a limit was hit): no snapshot until fixed. */
export function lifecyclePolicyErrorPattern(policyArn: string): string {
    return JSON.stringify({
        source: ["aws.dlm"],
        "detail-type": ["DLM Policy State Change"],
        resources: [policyArn],
        detail: { state: ["ERROR"] },
    });
}

/**
 * A multi-volume CreateSnapshots that failed (EBS's event; DLM's instance policies use CreateSnapshots). The event
 * names no policy or tag, so this catches every such failure in the account and Region.
 */
export const SNAPSHOTS_FAILED_PATTERN = JSON.stringify({
    source: ["aws.ec2"],
    "detail-type": ["EBS Multi-Volume Snapshots Completion Status"],
    detail: { event: ["createSnapshots"], result: ["failed"] },
});

export const SNAPSHOTS_FAILED_MESSAGE = {
    inputPaths: { cause: "$.detail.cause", time: "$.time", region: "$.region" },
    inputTemplate: '"consistent-snapshots: a multi-volume snapshot (CreateSnapshots) failed at <time> in <region>: <cause>."',
};

export const LIFECYCLE_POLICY_ERROR_MESSAGE = {
    inputPaths: { policy: "$.detail.policy_id", cause: "$.detail.cause", time: "$.time" },
    inputTemplate:
        '"consistent-snapshots: Data Lifecycle Manager policy <policy> is in ERROR at <time>: <cause>. ' +
        'No snapshot is taken until it is fixed; `aws dlm get-lifecycle-policy --policy-id <policy>`."',
};

/**
 * Why an existing topic cannot receive this Region's alerts, if it cannot: EventBridge rules see only their own
 * Region's events and deliver across Regions only to event buses, so an SNS target must be in the rules' Region.
 */
export function alertTopicArnError(topicArn: string, region: string): string | undefined {
    const match = /^arn:aws[a-z-]*:sns:([a-z0-9-]+):\d{12}:[A-Za-z0-9_-]{1,256}$/.exec(topicArn);
    if (!match) return `alertTopicArn '${topicArn}': expected an SNS topic ARN, arn:aws:sns:<region>:<account>:<name>`;
    if (match[1] !== region) {
        return (
            `alertTopicArn '${topicArn}' is in ${match[1]}, but the alerts are in ${region}: EventBridge delivers a Region's ` +
            `events to SNS topics in that Region only. Give a topic in ${region}, or none to have one created there`
        );
    }
    return undefined;
}

/** One EventBridge rule that alerts: what it catches and the message it sends. */
export interface AlertRule {
    /** Resource name suffix, e.g. `command-failed`. */
    suffix: string;
    description: string;
    eventPattern: pulumi.Input<string>;
    message: { inputPaths: Record<string, string>; inputTemplate: string };
}

/**
 * The alert path shared by the schedulers: the rules, a topic (unless one is given) whose policy lets only these
 * rules publish, a target per rule, and an optional e-mail subscription. Returns the topic's ARN.
 */
export function failureAlerts(
    parent: pulumi.Resource,
    name: string,
    rules: AlertRule[],
    opts: {
        topicArn?: pulumi.Input<string>;
        email?: string;
        ctx: pulumi.Output<AccountContext>;
        tags?: Record<string, string>;
    },
): pulumi.Output<string> {
    const key =
        opts.topicArn === undefined
            ? new aws.kms.Key(
                  `${name}-alerts`,
                  {
                      description: "consistent-snapshots: encrypts the failure-alert topic (EventBridge publishes)",
                      enableKeyRotation: true,
                      policy: opts.ctx.apply((c) => alertTopicKeyPolicy(c.partition, c.accountId)),
                      tags: opts.tags,
                  },
                  { parent },
              )
            : undefined;
    const topic = key
        ? new aws.sns.Topic(`${name}-alerts`, { displayName: "consistent-snapshots failures", kmsMasterKeyId: key.arn, tags: opts.tags }, { parent })
        : undefined;
    const topicArn = topic
        ? topic.arn
        : pulumi.all([opts.topicArn!, opts.ctx]).apply(([arn, ctx]) => {
              const error = alertTopicArnError(arn, ctx.region);
              if (error) throw new Error(`${name}: ${error}`);
              return arn;
          });
    const eventRules = rules.map(
        (rule) =>
            new aws.cloudwatch.EventRule(
                `${name}-${rule.suffix}`,
                {
                    description: rule.description,
                    eventPattern: rule.eventPattern,
                    tags: opts.tags,
                },
                { parent },
            ),
    );
    const policy = topic
        ? new aws.sns.TopicPolicy(
              `${name}-alerts`,
              {
                  arn: topic.arn,
                  policy: pulumi
                      .all([topic.arn, pulumi.all(eventRules.map((r) => r.arn)), opts.ctx])
                      .apply(([arn, ruleArns, c]) => alertTopicPolicy(arn, ruleArns, c)),
              },
              { parent },
          )
        : undefined;
    rules.forEach(
        (rule, i) =>
            new aws.cloudwatch.EventTarget(
                `${name}-${rule.suffix}`,
                {
                    rule: eventRules[i].name,
                    arn: topicArn,
                    inputTransformer: rule.message,
                },
                { parent, dependsOn: policy ? [policy] : [] },
            ),
    );
    if (opts.email) {
        new aws.sns.TopicSubscription(`${name}-alert-email`, { topic: topicArn, protocol: "email", endpoint: opts.email }, { parent });
    }
    return topicArn;
}
