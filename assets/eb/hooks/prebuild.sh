#!/usr/bin/env bash
# Before EB pulls the images and starts Sifu's container: the homes, the token, this instance's relay
# address and the metadata rule, everything the container needs at its first start.
set -euo pipefail
. "$(dirname "$0")/../../sifu-eb-lib.sh"
mount_homes
fetch_secrets
write_instance_env
block_metadata_for_containers
