// Runs functions of the demo host's user data (scripts/mysql-host-user-data.sh) against fixtures: the file is
// sourced (main runs only when it is executed) with the settings MysqlHost's header would give it.
import { spawnSync } from "node:child_process";
import * as path from "node:path";

export const REPO_ROOT = path.resolve(__dirname, "..", "..");
export const USER_DATA_SCRIPT = path.join(REPO_ROOT, "scripts", "mysql-host-user-data.sh");
export const VOLUME_ID = "vol-0123456789abcdef0";

export interface Run {
    status: number | null;
    stdout: string;
    stderr: string;
}

/** Sources the user data and runs `body` in bash, with `pathPrefix` (fake commands) first on PATH. */
export function userData(body: string, env: Record<string, string> = {}, pathPrefix?: string): Run {
    const result = spawnSync("bash", ["-c", `source "$USER_DATA"\n${body}`], {
        encoding: "utf8",
        env: {
            PATH: pathPrefix ? `${pathPrefix}:${process.env.PATH}` : process.env.PATH!,
            LANG: "C.UTF-8",
            USER_DATA: USER_DATA_SCRIPT,
            DATA_VOLUME_ID: VOLUME_ID,
            BINLOG_EXPIRE_DAYS: "7",
            ...env,
        },
        timeout: 30_000,
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}
