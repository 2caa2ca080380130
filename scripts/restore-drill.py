# restore-drill.py: the two script steps of the restore-drill runbook (SSM Automation, aws:executeScript,
# runtime python3.11; the runbook carries this file byte for byte, one handler per step).
#   choose_snapshot_set: the snapshot set to restore (the newest whole, completed, consistent set of a target's
#       instances, or the set of a given RunId) and the block device mappings that create its volumes.
#   clean_up: terminates every instance this execution launched (found by tag, so also when the launch step's
#       output was lost); their volumes go with them (DeleteOnTermination).
# Snapshot tags are read as data, never trusted: only this tool's snapshots (CreatedBy or CreatedByPolicy) are
# considered, a set must come from one instance, and every value passed on is checked against its form.
import re

READY = "completed"
CREATED_BY = ("CreatedBy", "consistent-snapshots")
CREATED_BY_POLICY = ("CreatedByPolicy", "consistent-snapshots")
# Device names the drill instance gets its restored volumes at (EC2's recommended range for EBS on Linux).
DEVICES = ["/dev/sd" + c for c in "fghijklmnop"]
DRILL_TAG_KEY = "ConsistentSnapshotsDrill"
EXECUTION_TAG_KEY = "RestoreDrillExecution"
RUN_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
BINLOG_FILE = re.compile(r"^[A-Za-z0-9._-]{1,255}$")
NUMBER = re.compile(r"^[0-9]{1,20}$")
# Amazon Linux 2023's package of each MariaDB series (DatabaseVersion tag "mariadb 10.11.6"); others: give the
# package, or an image that has the server.
AL2023_SERVER_PACKAGES = {"10.5": "mariadb105-server", "10.11": "mariadb1011-server"}


class DrillError(Exception):
    """A reason the drill cannot go on, worded for the person on call."""


def tags_of(snapshot):
    return {t["Key"]: t["Value"] for t in snapshot.get("Tags", [])}


def is_ours(tags):
    return tags.get(CREATED_BY[0]) == CREATED_BY[1] or tags.get(CREATED_BY_POLICY[0]) == CREATED_BY_POLICY[1]


def set_problem(snapshots):
    """Why a run's snapshots cannot be restored as a consistent set, or None."""
    tags = [tags_of(s) for s in snapshots]
    instances = {t.get("InstanceId") for t in tags}
    if len(instances) != 1 or None in instances:
        return "its snapshots name %d source instances" % len(instances)
    not_ready = [s["SnapshotId"] for s in snapshots if s.get("State") != READY]
    if not_ready:
        return "snapshots not completed: " + ", ".join(sorted(not_ready))
    if not all(t.get("ConsistencyMethod") for t in tags):
        return "a snapshot has no ConsistencyMethod tag (DLM's post-script did not tag it: not known to be consistent)"
    counts = {t.get("VolumeCount") for t in tags} - {None}
    if len(counts) > 1 or (counts and not NUMBER.match(next(iter(counts)))):
        return "its VolumeCount tags disagree or are not numbers"
    if counts and len(snapshots) < int(next(iter(counts))):
        return "%d of its %s snapshots exist (incomplete set)" % (len(snapshots), next(iter(counts)))
    if len(snapshots) > len(DEVICES):
        return "%d snapshots; a drill attaches at most %d volumes" % (len(snapshots), len(DEVICES))
    return None


def choose(snapshots, run_id=""):
    """The set to restore: (RunId, its snapshots sorted by source device order), or DrillError saying why none."""
    runs = {}
    for snapshot in snapshots:
        tags = tags_of(snapshot)
        if is_ours(tags) and tags.get("RunId"):
            runs.setdefault(tags["RunId"], []).append(snapshot)
    if run_id:
        if run_id not in runs:
            raise DrillError("no snapshot of this tool carries RunId %s" % run_id)
        problem = set_problem(runs[run_id])
        if problem:
            raise DrillError("run %s cannot be restored: %s" % (run_id, problem))
        return run_id, sorted(runs[run_id], key=lambda s: s["SnapshotId"])
    skipped = []
    for rid, members in sorted(runs.items(), key=lambda r: max(s["StartTime"] for s in r[1]), reverse=True):
        problem = set_problem(members)
        if problem is None:
            return rid, sorted(members, key=lambda s: s["SnapshotId"])
        skipped.append("%s (%s)" % (rid, problem))
    raise DrillError("no whole, completed, consistent snapshot set" + (": skipped " + "; ".join(skipped[:5]) if skipped else " exists"))


def server_package(database_version, requested):
    """The package restore-verify.sh installs when the image has no server: '' for none."""
    if requested not in ("", "auto"):
        if requested == "none":
            return ""
        if not re.match(r"^[A-Za-z0-9][A-Za-z0-9.+_-]{0,99}$", requested):
            raise DrillError("serverPackage %r is not a package name" % requested)
        return requested
    match = re.match(r"^mariadb (\d+\.\d+)\.", database_version or "", re.IGNORECASE)
    return AL2023_SERVER_PACKAGES.get(match.group(1), "") if match else ""


def mappings(members):
    """RunInstances block device mappings: one encrypted gp3 volume per snapshot, deleted with the instance."""
    return [
        {
            "DeviceName": DEVICES[i],
            "Ebs": {"SnapshotId": s["SnapshotId"], "VolumeType": "gp3", "Encrypted": True, "DeleteOnTermination": True},
        }
        for i, s in enumerate(members)
    ]


def ec2_client():
    import boto3
    from botocore.config import Config

    # aws:executeScript does not retry throttled calls itself.
    return boto3.client("ec2", config=Config(retries={"max_attempts": 10, "mode": "adaptive"}))


def paged(ec2, operation, key, **kwargs):
    for page in ec2.get_paginator(operation).paginate(**kwargs):
        yield from page[key]


def target_instance_ids(ec2, tag_key, tag_value):
    filters = [{"Name": "tag:" + tag_key, "Values": [tag_value]}]
    return sorted(i["InstanceId"] for r in paged(ec2, "describe_instances", "Reservations", Filters=filters) for i in r["Instances"])


def snapshots_of(ec2, instance_ids, run_id):
    if run_id:
        return list(paged(ec2, "describe_snapshots", "Snapshots", OwnerIds=["self"], Filters=[{"Name": "tag:RunId", "Values": [run_id]}]))
    found = []
    # A filter takes at most 200 values.
    for i in range(0, len(instance_ids), 200):
        chunk = instance_ids[i : i + 200]
        found += paged(ec2, "describe_snapshots", "Snapshots", OwnerIds=["self"], Filters=[{"Name": "tag:InstanceId", "Values": chunk}])
    return found


def choose_snapshot_set(events, context):
    run_id = events.get("RunId", "")
    if run_id and not RUN_ID.match(run_id):
        raise DrillError("RunId %r is not a run id" % run_id)
    ec2 = ec2_client()
    instance_ids = [] if run_id else target_instance_ids(ec2, events["TagKey"], events["TagValue"])
    if not run_id and not instance_ids:
        raise DrillError("no instance is tagged %s=%s" % (events["TagKey"], events["TagValue"]))
    rid, members = choose(snapshots_of(ec2, instance_ids, run_id), run_id)
    tags = tags_of(members[0])
    binlog_file = tags.get("BinlogFile", "")
    binlog_position = tags.get("BinlogPosition", "")
    if not (BINLOG_FILE.match(binlog_file) and NUMBER.match(binlog_position)):
        binlog_file = binlog_position = ""
    print("restoring run %s of %s: %s" % (rid, tags["InstanceId"], " ".join(s["SnapshotId"] for s in members)))
    return {
        "RunId": rid,
        "SourceInstanceId": tags["InstanceId"],
        "SnapshotIds": [s["SnapshotId"] for s in members],
        "BlockDeviceMappings": mappings(members),
        "Devices": " ".join(DEVICES[: len(members)]),
        "ExpectBinlogFile": binlog_file,
        "ExpectBinlogPosition": binlog_position,
        "ConsistencyMethod": tags.get("ConsistencyMethod", ""),
        "ServerPackage": server_package(tags.get("DatabaseVersion", ""), events.get("ServerPackage", "auto")),
    }


def clean_up(events, context):
    ec2 = ec2_client()
    filters = [
        {"Name": "tag:" + EXECUTION_TAG_KEY, "Values": [events["ExecutionId"]]},
        {"Name": "tag:" + DRILL_TAG_KEY, "Values": [events["Drill"]]},
        {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]},
    ]
    ids = sorted(i["InstanceId"] for r in paged(ec2, "describe_instances", "Reservations", Filters=filters) for i in r["Instances"])
    if ids:
        ec2.terminate_instances(InstanceIds=ids)
    print("terminated: " + (" ".join(ids) or "nothing to terminate"))
    return {"TerminatedInstanceIds": ids}
