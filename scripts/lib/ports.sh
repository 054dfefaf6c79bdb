# shellcheck shell=bash
# Free TCP ports for the throwaway servers of scripts (source this file):
#   free_port   prints a port in 20000-59999 that nothing on 127.0.0.1 answers on
free_port() {
  local port
  for _ in $(seq 50); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  echo "ports.sh: no free port found" >&2
  return 1
}
