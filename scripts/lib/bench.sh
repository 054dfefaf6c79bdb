# shellcheck shell=bash
# Timing of benchmark cases for scripts/bench.sh (source this file). Set BENCH_OUT to the directory that
# backups are written to (it is emptied before each case) and BENCH_TIMES to a scratch file.
#
#   bench_run NAME OUTPUT COMMAND...   runs one case once and records its wall time and CPU time (user + sys
#                                      of the whole command); OUTPUT is a glob in BENCH_OUT whose first
#                                      match's size is recorded ("" for none)
#   bench_rss NAME COMMAND...          runs it once more for the peak resident memory (VmHWM) of the process
#                                      the command becomes (db-backup; the dump tool not counted)
#   bench_time NAME COMMAND...         records wall and CPU time only, touching no directory (restores)
#   bench_reset                        forgets every figure recorded so far
#   bench_table BASE CASE...           a markdown table of the medians, with each case's ratio to BASE
#   bench_machine                      one line describing this machine (and BENCH_LOAD, the load average
#                                      that bench.sh read before it began)

declare -A BENCH_WALL BENCH_CPU BENCH_RSS BENCH_SIZE

_bench_now() { date +%s.%N; }

bench_run() {
  local name=$1 output=$2
  shift 2
  rm -rf "${BENCH_OUT:?}"/* "$BENCH_OUT"/.db-backup* 2>/dev/null || true
  bench_time "$name" "$@" || return 1
  if [[ -n $output ]]; then
    local f
    # shellcheck disable=SC2086 # OUTPUT is a glob
    f=$(ls -d "$BENCH_OUT"/$output 2>/dev/null | head -n 1)
    if [[ -n $f ]]; then
      BENCH_SIZE[$name]=$(du -sb "$f" | cut -f1)
    fi
  fi
}

# The peak is measured in a run of its own, so that sampling /proc costs the timed runs nothing: the
# db-backup process (the command execs into it, as `env` does) has its VmHWM read every 50 ms with shell
# builtins until it exits.
bench_rss() {
  local name=$1
  shift
  rm -rf "${BENCH_OUT:?}"/* "$BENCH_OUT"/.db-backup* 2>/dev/null || true
  "$@" &
  local pid=$! hwm="" key value _ process
  while kill -0 "$pid" 2>/dev/null; do
    process=""
    while read -r key value _; do
      [[ $key == Name: ]] && process=$value
      [[ $key == VmHWM: && $process == db-backup ]] && hwm=$value
    done <"/proc/$pid/status" 2>/dev/null || true
    sleep 0.02
  done
  wait "$pid" || {
    echo "bench: the case \"$name\" failed" >&2
    return 1
  }
  BENCH_RSS[$name]=$hwm
}

bench_time() {
  local name=$1
  shift
  local start
  start=$(_bench_now)
  if ! /usr/bin/time -o "${BENCH_TIMES:?}" -f "%U %S" "$@"; then
    echo "bench: the case \"$name\" failed" >&2
    return 1
  fi
  BENCH_WALL[$name]+="$(echo "$(_bench_now) - $start" | bc) "
  BENCH_CPU[$name]+="$(awk '{print $1 + $2}' "$BENCH_TIMES") "
}

# Forgets every recorded figure (between engines, whose cases share names).
bench_reset() {
  BENCH_WALL=()
  BENCH_CPU=()
  BENCH_RSS=()
  BENCH_SIZE=()
}

bench_median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print ""}'; }

bench_table() {
  local base_name=$1 c w base rounds r s
  shift
  base=$(echo "${BENCH_WALL[$base_name]}" | bench_median)
  rounds=$(echo "${BENCH_WALL[$base_name]}" | wc -w)
  echo "| case | wall s (median of $rounds) | ratio | CPU s | db-backup peak RSS | output |"
  echo "|---|---|---|---|---|---|"
  for c in "$@"; do
    w=$(echo "${BENCH_WALL[$c]:-}" | bench_median)
    [[ -n $w ]] || continue
    r=${BENCH_RSS[$c]:-}
    s=${BENCH_SIZE[$c]:-}
    printf '| `%s` | %.2f | %.2fx | %.2f | %s | %s |\n' "${c//|/\\|}" "$w" "$(echo "$w / $base" | bc -l)" \
      "$(echo "${BENCH_CPU[$c]}" | bench_median)" \
      "$([[ -n $r ]] && echo "$((r / 1024)) MiB" || echo "-")" \
      "$([[ -n $s ]] && printf '%.1f MB' "$(echo "$s / 1000000" | bc -l)" || echo "-")"
  done
}

bench_machine() {
  echo "$(nproc) cores ($(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//'))," \
    "$(free -g | awk '/Mem:/ {print $2}') GiB memory, $(uname -sr), load average at the start" \
    "${BENCH_LOAD:-unknown}"
}
