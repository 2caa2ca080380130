// The tags this tool's snapshots carry and IAM, DLM, the stack's commands and the operator CLI key on. No Pulumi
// import: the CLI reads these without loading the SDK.

/** The tag the snapshot script puts on every snapshot it creates; IAM keys on it. */
export const CREATED_BY_TAG = { key: "CreatedBy", value: "consistent-snapshots" } as const;

/** The tag DLM adds to every snapshot of a policy of SnapshotLifecyclePolicy (besides `tagsToAdd`). */
export const LIFECYCLE_POLICY_TAG = { key: "CreatedByPolicy", value: "consistent-snapshots" } as const;

/** The snapshot tag naming the instance a snapshot is of: the script sets it on create, DLM as a variable tag. */
export const INSTANCE_ID_TAG_KEY = "InstanceId";

/** The tag naming the run a snapshot belongs to (the script's RunId; DLM's post-script adds it to DLM's snapshots). */
export const RUN_ID_TAG_KEY = "RunId";

/** The tag the operator CLI's restore puts on every volume it creates (with RestoredFromSnapshot and RestoredFromVolume); the operator policy lets only such volumes be attached or deleted. */
export const RESTORED_FROM_RUN_TAG_KEY = "RestoredFromRunId";
