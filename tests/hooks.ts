// Mocha root hooks. Pulumi's mocked runtime turns a throwing `apply`, an unmocked invoke or a failing
// assertion inside an output callback into an unhandled promise rejection, which mocha would drop:
// collect them and fail the test that produced them.
import { drainPulumiRuntime } from "./pulumiRuntime";

const collected: unknown[] = [];
process.on("unhandledRejection", (reason) => collected.push(reason));

export const mochaHooks = {
    async afterEach(this: Mocha.Context) {
        // Let the runtime's outstanding registrations and callbacks settle before judging the test.
        await waitForRuntime();
        if (collected.length > 0) {
            const reasons = collected.splice(0).map((r) => (r instanceof Error ? (r.stack ?? r.message) : String(r)));
            // Hook#error(err) makes mocha fail the test this hook ran after.
            (this.test as unknown as { error(err: Error): void }).error(new Error(`unhandled rejection(s) during the test:\n${reasons.join("\n---\n")}`));
        }
    },
};

async function waitForRuntime(): Promise<void> {
    await drainPulumiRuntime().catch((e: unknown) => collected.push(e));
    await new Promise((resolve) => setImmediate(resolve));
}

/** Takes the unhandled rejections collected so far, for a spec that expects one (an error thrown inside an apply). */
export async function takeUnhandledRejections(): Promise<unknown[]> {
    await waitForRuntime();
    return collected.splice(0);
}
