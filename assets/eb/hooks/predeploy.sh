#!/usr/bin/env bash
# Before the deployment goes live: the bundle's nginx configuration installed and checked (`nginx -t`).
set -euo pipefail
. "$(dirname "$0")/../../sifu-eb-lib.sh"
install_nginx_conf
