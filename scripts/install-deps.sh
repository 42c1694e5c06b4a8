#!/usr/bin/env bash
# Installs what Sifu needs on Debian 12 and is not there yet. Idempotent and quiet when all is present.
#   scripts/install-deps.sh build  what building the native WebSocket relay needs (a C compiler, make, python3)
#   scripts/install-deps.sh run    what `make run` needs (Jupyter)
#   scripts/install-deps.sh test   what `make test` needs too (Chromium, nginx, PostgreSQL, docker.io, debootstrap,
#                                  JupyterHub for jupyterhub-singleuser, Prometheus)
#   scripts/install-deps.sh bench  what `npm run bench` needs (JupyterHub, nginx, wrk)
set -euo pipefail
what=${1:-run}
need=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
want() { for p in "$@"; do have "$p" || need+=("$p"); done; }

# gcc, make, python3: node-gyp builds the native WebSocket relay (native/relay.c) with them.
want gcc make python3
# bubblewrap: the local backend runs every server in a sandbox of its own (setpriv is util-linux, always there).
[ "$what" = build ] || want jupyter-notebook python3-ipykernel bubblewrap
case "$what" in
  test) want chromium nginx postgresql git docker.io debootstrap docker-registry docker-compose jupyterhub prometheus ;;
  bench) want nginx jupyterhub wrk docker.io debootstrap ;;
esac

if [ ${#need[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need[*]}"
  sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends "${need[@]}"
fi
