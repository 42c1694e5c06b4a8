#!/usr/bin/env bash
# Starts a loopback-only dockerd for tests and `sifu image build`, unless one already answers.
# Idempotent. No bridge, no iptables: server containers have no network (servers listen on unix sockets).
#   scripts/start-dockerd.sh          start (or reuse) dockerd
#   scripts/start-dockerd.sh swarm    also `docker swarm init` on 127.0.0.1 (single node)
set -euo pipefail
sock=${SIFU_DOCKER_SOCKET:-/var/run/docker.sock}
data_root=${SIFU_DOCKER_DATA_ROOT:-/var/lib/docker}
log=${SIFU_DOCKERD_LOG:-/var/log/sifu-dockerd.log}

answers() { docker -H "unix://$sock" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

if ! answers; then
  command -v dockerd >/dev/null || { echo "dockerd missing: run scripts/install-deps.sh test" >&2; exit 1; }
  mkdir -p "$data_root" "$(dirname "$log")"
  # setsid: dockerd must outlive the shell (and test process group) that started it.
  setsid dockerd --host "unix://$sock" --data-root "$data_root" \
    --bridge=none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
    --pidfile /var/run/sifu-dockerd.pid >>"$log" 2>&1 < /dev/null &
  for _ in $(seq 1 150); do answers && break; sleep 0.2; done
  answers || { echo "dockerd did not answer on $sock within 30 s; see $log" >&2; tail -20 "$log" >&2; exit 1; }
fi

if [ "${1:-}" = swarm ]; then
  state=$(docker -H "unix://$sock" info --format '{{.Swarm.LocalNodeState}}')
  if [ "$state" != active ]; then
    docker -H "unix://$sock" swarm init --advertise-addr 127.0.0.1 --listen-addr 127.0.0.1:2377 >/dev/null
  fi
fi
echo "dockerd ready on $sock"
