// `verify <RunId>`: the restore drill on demand. Starts the stack's drill runbook (SSM Automation) for one run's
// snapshot set, follows it step by step to the end, and prints what restore-verify.sh said on the drill instance.
import { AutomationExecution, GetAutomationExecutionCommand, StartAutomationExecutionCommand } from "@aws-sdk/client-ssm";
import { CliError, Context, EXIT, aws } from "./context";
import { table } from "./format";

/** Automation statuses after which nothing changes. */
const FINAL = ["Success", "Failed", "TimedOut", "Cancelled", "CompletedWithSuccess", "CompletedWithFailure", "Rejected", "Exited"];

export interface VerifyOptions {
    runId: string;
    /** The drill runbook (the stack's restoreDrillDocumentName). */
    documentName: string;
    /** The target's name, the metric dimension the result is counted under. */
    targetName: string;
    waitSeconds: number;
    json: boolean;
}

/** restore-verify.sh's summary, from the verify step's output (its last JSON line), when there is one. */
export function verifySummary(execution: AutomationExecution | undefined): Record<string, unknown> | undefined {
    const step = execution?.StepExecutions?.find((s) => s.StepName === "verifyRestore");
    const output = step?.Outputs?.Output?.join("\n") ?? "";
    for (const line of output.trimEnd().split("\n").reverse()) {
        try {
            const value: unknown = JSON.parse(line);
            if (value && typeof value === "object" && !Array.isArray(value) && "tablesChecked" in value) return value as Record<string, unknown>;
        } catch {
            /* not the summary */
        }
    }
    return undefined;
}

export async function verifyCommand(ctx: Context, options: VerifyOptions): Promise<number> {
    const started = await aws("StartAutomationExecution (the drill runbook)", () =>
        ctx.clients.ssm.send(
            new StartAutomationExecutionCommand({
                DocumentName: options.documentName,
                Parameters: { Target: [options.targetName], RunId: [options.runId] },
            }),
        ),
    );
    const executionId = started.AutomationExecutionId!;
    ctx.err(`restore drill of run ${options.runId} started: execution ${executionId}`);
    const deadline = ctx.now() + options.waitSeconds * 1000;
    let execution: AutomationExecution | undefined;
    let reported = "";
    for (;;) {
        execution = (await aws("GetAutomationExecution", () => ctx.clients.ssm.send(new GetAutomationExecutionCommand({ AutomationExecutionId: executionId }))))
            .AutomationExecution;
        const status = execution?.AutomationExecutionStatus ?? "Pending";
        const current = execution?.StepExecutions?.filter((s) => s.StepStatus !== "Pending").at(-1);
        const progress = `${status}${current ? `: step ${current.StepName} ${current.StepStatus}` : ""}`;
        if (progress !== reported) ctx.err(progress);
        reported = progress;
        if (FINAL.includes(status)) break;
        if (ctx.now() >= deadline) {
            throw new CliError(
                `the drill ${executionId} is still ${status} after ${options.waitSeconds} s; it goes on (its instance ends at its deadline whatever happens): ` +
                    `aws ssm get-automation-execution --automation-execution-id ${executionId}`,
                EXIT.timedOut,
            );
        }
        await ctx.sleep(ctx.pollMs);
    }
    const status = execution?.AutomationExecutionStatus ?? "";
    const summary = verifySummary(execution);
    const failedStep = execution?.StepExecutions?.find((s) => s.StepStatus === "Failed" || s.StepStatus === "TimedOut");
    const result = {
        executionId,
        runId: options.runId,
        status,
        failedStep: failedStep?.StepName,
        failureMessage: execution?.FailureMessage ?? failedStep?.FailureMessage,
        restoreVerify: summary,
    };
    if (options.json) ctx.out(JSON.stringify(result, null, 2));
    else {
        ctx.out(
            table(
                ["RUN", "DRILL", "STATUS", "TABLES CHECKED", "BINLOG", "MESSAGE"],
                [
                    [
                        options.runId,
                        executionId,
                        status === "Success" ? "passed" : `FAILED (${status}${failedStep ? ` at ${failedStep.StepName}` : ""})`,
                        summary?.tablesChecked === undefined ? "-" : String(summary.tablesChecked),
                        summary?.binlogFile ? `${summary.binlogFile} ${summary.binlogFileSize}/${summary.expectedBinlogPosition}` : "-",
                        String(summary?.message ?? result.failureMessage ?? "-"),
                    ],
                ],
            ),
        );
    }
    return status === "Success" ? EXIT.ok : EXIT.runFailed;
}
