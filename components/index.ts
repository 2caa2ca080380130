// The component library: import these into your own Pulumi program.
export * from "./mysqlHost";
export * from "./network";
export * from "./paths";
export * from "./policies";
export * from "./rules";
export * from "./schedule";
export * from "./snapshotDocument";
export * from "./snapshotMaintenanceWindow";
export * from "./snapshotLifecyclePolicy";
export * from "./snapshotTags";
export * from "./restoreDrill";
