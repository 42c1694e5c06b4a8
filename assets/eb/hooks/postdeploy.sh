#!/usr/bin/env bash
# Once Sifu's container runs: nginx (re)loaded with the bundle's configuration, the metadata rule checked
# again (a restarted Docker remakes its chains), then Sifu must answer through nginx.
set -euo pipefail
. "$(dirname "$0")/../../sifu-eb-lib.sh"
reload_nginx
block_metadata_for_containers
wait_healthy
