// Failure alerts for snapshot runs: EventBridge rules on Systems Manager's own state-change events,
// routed to an SNS topic. Two rules because two things can fail:
//   - a command on an instance (the script failed, timed out, was cancelled, or never reached the agent):
//     "EC2 Command Invocation Status-change Notification", one event per instance, filtered by document;
//   - the maintenance window's task or execution itself (e.g. the service role may not send the command,
//     so no command ever exists): "Maintenance Window Task/Execution State-change Notification", by window.
// A task's own notificationConfig only reports command statuses, so it would miss the second kind.
/** Per-instance command statuses that mean the snapshot did not happen. */
export const FAILED_COMMAND_STATUSES = ["Failed", "TimedOut", "Cancelled", "Undeliverable", "Terminated",
    "DeliveryTimedOut", "ExecutionTimedOut"];
/** Maintenance-window statuses that mean runs did not happen or did not finish. */
export const FAILED_WINDOW_STATUSES = ["FAILED", "TIMED_OUT", "CANCELLED", "SKIPPED_OVERLAPPING"];

export function commandFailedPattern(documentNames: string[]): string {
    return JSON.stringify({
        "source": ["aws.ssm"],
        "detail-type": ["EC2 Command Invocation Status-change Notification"],
        "detail": { "document-name": documentNames, "status": FAILED_COMMAND_STATUSES },
    });
}

export function windowFailedPattern(windowId: string): string {
    return JSON.stringify({
        "source": ["aws.ssm"],
        "detail-type": ["Maintenance Window Task Execution State-change Notification",
            "Maintenance Window Execution State-change Notification"],
        "detail": { "window-id": [windowId], "status": FAILED_WINDOW_STATUSES },
    });
}

/** A human-readable message for the on-call engineer (EventBridge input transformer). */
export const COMMAND_FAILED_MESSAGE = {
    inputPaths: {
        status: "$.detail.status", instance: "$.detail.instance-id", command: "$.detail.command-id",
        document: "$.detail.document-name", time: "$.time", region: "$.region",
    },
    inputTemplate: "\"consistent-snapshots: snapshot run <status> on instance <instance> at <time> (document <document>, " +
        "command <command>, region <region>). Its output, ending in a JSON summary with the exit code, is in the " +
        "command's CloudWatch log group; `aws ssm get-command-invocation --command-id <command> --instance-id <instance>`.\"",
};

export const WINDOW_FAILED_MESSAGE = {
    inputPaths: { status: "$.detail.status", window: "$.detail.window-id", execution: "$.detail.window-execution-id", time: "$.time" },
    inputTemplate: "\"consistent-snapshots: maintenance window <window> execution <execution> is <status> at <time>; " +
        "no snapshot run may have started. `aws ssm describe-maintenance-window-execution-tasks --window-execution-id <execution>`.\"",
};

/** Topic policy: only these EventBridge rules may publish (plus the account's own administration). */
export function alertTopicPolicy(topicArn: string, ruleArns: string[], accountId: string): string {
    return JSON.stringify({
        Version: "2012-10-17",
        Statement: [
            {
                Sid: "SnapshotFailureRulesPublish", Effect: "Allow", Principal: { Service: "events.amazonaws.com" },
                Action: ["sns:Publish"], Resource: topicArn, Condition: { ArnEquals: { "aws:SourceArn": ruleArns } },
            },
            {
                Sid: "AccountManagesTopic", Effect: "Allow", Principal: { AWS: `arn:${topicArn.split(":")[1]}:iam::${accountId}:root` },
                Action: ["sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:Subscribe", "sns:ListSubscriptionsByTopic",
                    "sns:DeleteTopic", "sns:TagResource", "sns:UntagResource"],
                Resource: topicArn,
            },
        ],
    });
}
