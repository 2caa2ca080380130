// Run metrics and the freshness alarm, shared by the schedulers. Under a maintenance window the metrics come from
// the script's summary line in the runs' log group: the script writes only that line to standard output, and the
// SSM Agent streams standard output to its own log stream, one event per batch of complete lines read each second
// (amazon-ssm-agent, cloudwatchlogsservice.go getNextMessage: a partial line waits for its newline), so the
// summary is one JSON log event that a metric filter can read. Under DLM, DLM's own AWS/EBS metrics per policy.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { cutText } from "./rules";

/** CloudWatch's AlarmDescription is 0-1024 characters. */
const ALARM_DESCRIPTION_MAX_CHARS = 1024;

/** The CloudWatch namespace of the run metrics. */
export const DEFAULT_METRIC_NAMESPACE = "ConsistentSnapshots";

/** The metrics a restore drill counts (PutMetricData from its runbook), dimension Target. */
export const DRILL_METRICS = { succeeded: "RestoreDrillsSucceeded", failed: "RestoreDrillsFailed" } as const;

/** A run that took its snapshots (not a dry run, not DLM's held pre-script). */
const SUCCEEDED = '{ ($.exitCode = 0) && ($.status = "ok") }';

/** The metrics each run's summary gives, with the Target dimension (the document's `target` parameter). */
export const RUN_METRICS: readonly { metricName: string; pattern: string; value: string; unit: string; description: string }[] = [
    { metricName: "RunsSucceeded", pattern: SUCCEEDED, value: "1", unit: "Count", description: "runs that took their consistent snapshots" },
    { metricName: "RunsFailed", pattern: "{ $.exitCode != 0 }", value: "1", unit: "Count", description: "runs that failed (the summary's exit code)" },
    { metricName: "LockHeldMs", pattern: SUCCEEDED, value: "$.lockHeldMs", unit: "Milliseconds", description: "how long the database lock was held" },
    { metricName: "WriteBlockWindowMs", pattern: SUCCEEDED, value: "$.writeBlockWindowMs", unit: "Milliseconds", description: "how long writes were blocked" },
    { metricName: "FrozenMs", pattern: SUCCEEDED, value: "$.frozenMs", unit: "Milliseconds", description: "how long the filesystems were frozen" },
    { metricName: "ApiMs", pattern: SUCCEEDED, value: "$.apiMs", unit: "Milliseconds", description: "the CreateSnapshots call's duration" },
];

/** The metric filters of RUN_METRICS on a runs' log group. */
export function runMetricFilters(
    parent: pulumi.Resource,
    name: string,
    logGroupName: pulumi.Input<string>,
    namespace: string,
): aws.cloudwatch.LogMetricFilter[] {
    return RUN_METRICS.map(
        (m) =>
            new aws.cloudwatch.LogMetricFilter(
                `${name}-${m.metricName}`,
                {
                    logGroupName,
                    pattern: m.pattern,
                    metricTransformation: { name: m.metricName, namespace, value: m.value, unit: m.unit, dimensions: { Target: "$.target" } },
                },
                { parent },
            ),
    );
}

/** One metric an alarm counts successes with. */
export interface CountedMetric {
    namespace: string;
    metricName: string;
    dimensions: Record<string, pulumi.Input<string>>;
}

/**
 * An alarm that fires when none of `metrics` counted a success in any of the last `hours` hours. Each metric's
 * hourly sum is FILLed with 0, so an hour without data is a zero, never a gap CloudWatch looks past to an older
 * success; with several metrics, every one of them must have counted in the same hour (MIN). Missing data (the
 * metric never existed) is breaching.
 */
export function freshnessAlarm(
    parent: pulumi.Resource,
    name: string,
    opts: {
        metrics: CountedMetric[];
        hours: number;
        description: string;
        tags?: Record<string, string>;
    },
): aws.cloudwatch.MetricAlarm {
    const ids = opts.metrics.map((_, i) => `m${i}`);
    const filled = ids.map((id) => `FILL(${id}, 0)`);
    return new aws.cloudwatch.MetricAlarm(
        name,
        {
            alarmDescription: cutText(opts.description, ALARM_DESCRIPTION_MAX_CHARS),
            comparisonOperator: "LessThanThreshold",
            threshold: 1,
            evaluationPeriods: opts.hours,
            datapointsToAlarm: opts.hours,
            treatMissingData: "breaching",
            metricQueries: [
                ...opts.metrics.map((m, i) => ({
                    id: ids[i],
                    returnData: false,
                    metric: { namespace: m.namespace, metricName: m.metricName, dimensions: m.dimensions, period: 3600, stat: "Sum" },
                })),
                {
                    id: "fresh",
                    expression: filled.length === 1 ? filled[0] : `MIN([${filled.join(", ")}])`,
                    label: "successful runs per hour",
                    returnData: true,
                },
            ],
            tags: opts.tags,
        },
        { parent },
    );
}

/** EventBridge pattern: one of these alarms went into ALARM (CloudWatch sends the state change to the default bus). */
export function alarmPattern(alarmArns: string[]): string {
    return JSON.stringify({
        source: ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        resources: alarmArns,
        detail: { state: { value: ["ALARM"] } },
    });
}

export const STALE_MESSAGE = {
    inputPaths: { alarm: "$.detail.alarmName", reason: "$.detail.state.reason", time: "$.time", region: "$.region" },
    inputTemplate:
        '"consistent-snapshots: NO successful consistent snapshot within the freshness window (<alarm>, <region>, <time>): <reason>. ' +
        "Nothing may have failed loudly: check that the instances run and carry their tag, that the SSM Agent is online, and that the " +
        'window or policy is enabled; `npx consistent-snapshots runs` and `snapshots` show the last runs."',
};

/** A CloudWatch dashboard widget (the dashboard body's structure, as PutDashboard takes it). */
interface Widget {
    type: "metric" | "alarm" | "text" | "log";
    x: number;
    y: number;
    width: number;
    height: number;
    properties: Record<string, unknown>;
}

/** Widgets two to a row, each 12 wide and 6 high. */
function grid(widgets: Omit<Widget, "x" | "y" | "width" | "height">[]): Widget[] {
    return widgets.map((w, i) => ({ ...w, x: (i % 2) * 12, y: Math.floor(i / 2) * 6, width: 12, height: 6 }));
}

function metricWidget(region: string, title: string, stat: string, metrics: (string | Record<string, string | number>)[][]) {
    return { type: "metric" as const, properties: { title, region, view: "timeSeries", stat, period: 3600, metrics } };
}

/**
 * Logs Insights over the runs' summaries: each target's newest successful consistent snapshot and its run (the
 * summary is one JSON event, whose fields Logs Insights discovers).
 */
export function newestSnapshotQuery(logGroupName: string): string {
    return (
        `SOURCE '${logGroupName}' | filter exitCode = 0 and status = "ok" and ispresent(target) ` +
        "| stats latest(@timestamp) as newestSnapshot, latest(runId) as run, latest(instanceId) as instance by target | sort newestSnapshot asc"
    );
}

/**
 * The dashboard of a maintenance window's runs over the last 7 days: counts and durations per target, each target's
 * newest successful snapshot, the freshness alarms, the restore drills.
 */
export function windowDashboardBody(
    region: string,
    namespace: string,
    targetNames: string[],
    alarmArns: string[],
    drillTargetNames: string[] = [],
    logGroupName?: string,
): string {
    const per = (metricName: string, stat: string) => targetNames.map((t) => [namespace, metricName, "Target", t, { stat, label: `${t} ${metricName}` }]);
    const widgets = [
        metricWidget(region, "Runs per hour: succeeded and failed, by target", "Sum", [...per("RunsSucceeded", "Sum"), ...per("RunsFailed", "Sum")]),
        metricWidget(region, "Writes blocked and filesystems frozen, ms (max per hour)", "Maximum", [
            ...per("WriteBlockWindowMs", "Maximum"),
            ...per("FrozenMs", "Maximum"),
        ]),
        metricWidget(region, "Database lock held and CreateSnapshots call, ms (max per hour)", "Maximum", [
            ...per("LockHeldMs", "Maximum"),
            ...per("ApiMs", "Maximum"),
        ]),
        ...(alarmArns.length > 0
            ? [{ type: "alarm" as const, properties: { title: "Freshness: a successful consistent snapshot within the window", alarms: alarmArns } }]
            : []),
        ...(logGroupName
            ? [
                  {
                      type: "log" as const,
                      properties: {
                          title: "Newest successful consistent snapshot per target (last 7 days)",
                          region,
                          view: "table",
                          query: newestSnapshotQuery(logGroupName),
                      },
                  },
              ]
            : []),
        ...drillWidgets(region, namespace, drillTargetNames),
    ];
    return JSON.stringify({ start: "-P7D", widgets: grid(widgets) });
}

/** The restore drills' results per target (one widget; none without drills). */
function drillWidgets(region: string, namespace: string, drillTargetNames: string[]) {
    return drillTargetNames.length > 0
        ? [
              metricWidget(
                  region,
                  "Restore drills: snapshot sets proven to restore, and failed drills, by target",
                  "Sum",
                  drillTargetNames.flatMap((t) =>
                      [DRILL_METRICS.succeeded, DRILL_METRICS.failed].map((m) => [
                          namespace,
                          m,
                          "Target",
                          t,
                          { stat: "Sum", label: `${t} ${m}`, period: 86400 },
                      ]),
                  ),
              ),
          ]
        : [];
}

/** The dashboard of a DLM policy: DLM's own AWS/EBS metrics for its snapshots and scripts, the freshness alarm, the restore drills. */
export function lifecyclePolicyDashboardBody(
    region: string,
    policyId: string,
    alarmArns: string[],
    drillTargetNames: string[] = [],
    namespace = DEFAULT_METRIC_NAMESPACE,
): string {
    const dlm = (metricName: string) => ["AWS/EBS", metricName, "DLMPolicyId", policyId, { stat: "Sum", label: metricName }];
    const widgets = [
        metricWidget(region, "DLM snapshots per hour", "Sum", ["SnapshotsCreateCompleted", "SnapshotsCreateFailed", "SnapshotsDeleteFailed"].map(dlm)),
        metricWidget(
            region,
            "DLM pre and post scripts per hour (scheduler: dlm)",
            "Sum",
            ["PreScriptCompleted", "PreScriptFailed", "PostScriptCompleted", "PostScriptFailed"].map(dlm),
        ),
        ...(alarmArns.length > 0
            ? [{ type: "alarm" as const, properties: { title: "Freshness: a consistent snapshot within the window", alarms: alarmArns } }]
            : []),
        ...drillWidgets(region, namespace, drillTargetNames),
    ];
    return JSON.stringify({ widgets: grid(widgets) });
}

/**
 * A dashboard name unique to this program's stack, component and Region: dashboards are global to the account
 * ("All dashboards in your account are global, not region-specific", PutDashboard), and have no auto-naming.
 * `consistent-snapshots-<project>-<stack>-<component>-<region>`, characters CloudWatch does not take in a name
 * (other than [A-Za-z0-9_-]) replaced by `-`, cut to 255.
 */
export function defaultDashboardName(componentName: string, region: string): string {
    return `consistent-snapshots-${pulumi.getProject()}-${pulumi.getStack()}-${componentName}-${region}`.replace(/[^A-Za-z0-9_-]/g, "-").slice(0, 255);
}
