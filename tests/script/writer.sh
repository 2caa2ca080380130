#!/usr/bin/env bash
# Concurrent writer for the script tests. Usage: writer.sh MYSQL_OPTION_FILE APPEND_LOG [CLIENT [LABEL]]
# Commits one InnoDB and one MyISAM row (value LABEL.w<N>) per iteration N over one session and prints
# "db <epoch ms> <N>" once both are acknowledged; in parallel appends a line to APPEND_LOG, fsyncs it and
# prints "file <epoch ms>". Runs until SIGTERM (to its process group).
set -euo pipefail
option_file=$1 append_log=$2 client=${3:-mariadb} label=${4:-writer}

# Into a variable, not $(...): a command substitution forks, and the SIGTERM that stops the writer's process group
# killed that fork mid-line, printing an acknowledgement with an empty time (read as 0, "before everything").
now_ms() {
  local t=${EPOCHREALTIME/[.,]/}
  printf -v "$1" '%d' $((t / 1000))
}

# A pause without forking sleep(1): a read that times out on a pipe nobody writes to. Forks cost the
# two-core test machine about a core at this rate, and the writer should measure the database, not itself.
exec {never_ready}<> <(:)
pause() { read -r -t 0.005 -u "$never_ready" _ || true; }

append_loop() {
  local i=0 at
  while true; do
    i=$((i + 1))
    printf 'line %d\n' "$i" >>"$append_log"
    sync "$append_log"
    now_ms at
    echo "file $at"
    pause
  done
}

append_loop &
appender=$!
coproc DB { exec "$client" --defaults-extra-file="$option_file" --batch --skip-column-names --unbuffered 2>&1; }
trap 'kill "$appender" ${DB_PID:+"$DB_PID"} 2>/dev/null; exit 0' TERM INT

i=0
while true; do
  i=$((i + 1))
  printf "INSERT INTO app.inno (v, at) VALUES ('%s.w%d', NOW(6)); INSERT INTO app.myi (v, at) VALUES ('%s.w%d', NOW(6)); SELECT 'c%d';\n" \
    "$label" "$i" "$label" "$i" "$i" >&"${DB[1]}"
  IFS= read -r line <&"${DB[0]}"
  if [[ $line != "c$i" ]]; then
    echo "writer: unexpected answer: $line" >&2
    kill "$appender" 2>/dev/null
    exit 1
  fi
  now_ms at
  echo "db $at $i"
  pause
done
