// Waiting for Pulumi's mocked runtime, shared by the root hooks and the unit specs.

/** Resolves once every registration and invoke the program started has been answered. */
export async function drainPulumiRuntime(): Promise<void> {
    // waitForRPCs is marked internal; it drains the mocked monitor's queue of registrations.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const settings = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs?: () => Promise<void> };
    if (typeof settings.waitForRPCs !== "function") throw new Error("@pulumi/pulumi no longer has waitForRPCs: update tests/pulumiRuntime.ts");
    await settings.waitForRPCs();
}
