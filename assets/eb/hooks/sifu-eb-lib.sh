#!/usr/bin/env bash
# Shared by Sifu's Elastic Beanstalk hooks (sourced, never run by EB: it lives outside .platform/hooks/*/).
# Every AWS-facing command can be pointed elsewhere through a SIFU_EB_* variable, so that the rehearsal
# (test/deploy-rehearsal.test.ts) runs these same scripts against stand-ins.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The deployment's settings, written by `sifu deploy aws-eb bundle` (no secret in it).
# shellcheck source=/dev/null
. "$here/sifu-eb.env"

AWS_CLI=${SIFU_EB_AWS_CLI:-aws}
GET_CONFIG=${SIFU_EB_GET_CONFIG:-/opt/elasticbeanstalk/bin/get-config}
IMDS_URL=${SIFU_EB_IMDS_URL:-http://169.254.169.254}
IPTABLES=${SIFU_EB_IPTABLES:-iptables}
MOUNT=${SIFU_EB_MOUNT:-mount}
STATE_DIR=${SIFU_EB_STATE_DIR:-/var/lib/sifu-eb}
NGINX_CONF_DIR=${SIFU_EB_NGINX_CONF_DIR:-/etc/nginx/conf.d}

log() { echo "sifu-eb: $*" >&2; }

# An environment property of the EB environment (empty when unset).
env_property() { "$GET_CONFIG" environment -k "$1" 2>/dev/null || true; }

# The EFS file system (its id is an environment property set by `sifu deploy aws-eb`), mounted with
# amazon-efs-utils over TLS at the same path on every instance; the homes directory is uid 1000's, the
# uid every learner's container runs as. Without --efs: a local directory (one instance only).
mount_homes() {
  mkdir -p "$SIFU_EB_EFS_MOUNT"
  local fs
  fs=$(env_property SIFU_EFS_FILE_SYSTEM_ID)
  if [ "$SIFU_EB_EFS" = true ]; then
    [ -n "$fs" ] || { log "SIFU_EFS_FILE_SYSTEM_ID is not set"; exit 1; }
    if ! mountpoint -q "$SIFU_EB_EFS_MOUNT"; then
      log "mounting $fs at $SIFU_EB_EFS_MOUNT (efs, tls)"
      "$MOUNT" -t efs -o tls,_netdev,noresvport,nfsvers=4.1,hard,timeo=600,retrans=2 "$fs:/" "$SIFU_EB_EFS_MOUNT"
    fi
  fi
  mkdir -p "$SIFU_EB_EFS_MOUNT/homes"
  chown 1000:1000 "$SIFU_EB_EFS_MOUNT/homes"
  chmod 0755 "$SIFU_EB_EFS_MOUNT/homes"
}

# A SecureString from SSM Parameter Store into a 0400 root file in a 0700 directory, which only Sifu's
# container mounts (read-only). The value passes through the CLI's stdout, never an argument, an
# environment variable or the EB console.
fetch_secret() {
  local parameter=$1 file=$2 dir="$STATE_DIR/secrets" tmp
  mkdir -p "$dir"
  chmod 0700 "$STATE_DIR" "$dir"
  tmp=$(umask 077 && mktemp "$dir/.secret.XXXXXX")
  if ! "$AWS_CLI" ssm get-parameter --region "$SIFU_EB_REGION" --name "$parameter" \
    --with-decryption --query Parameter.Value --output text >"$tmp"; then
    rm -f "$tmp"
    log "cannot read SSM parameter $parameter"
    exit 1
  fi
  chmod 0400 "$tmp"
  mv -f "$tmp" "$dir/$file"
}

# The deployment token; and the database password when the store is an RDS instance the deployment made
# itself (its password in SSM, named by RDS_PASSWORD_PARAMETER) rather than one EB attached.
fetch_secrets() {
  fetch_secret "$SIFU_EB_TOKEN_PARAMETER" deployment-token
  local rds
  rds=$(env_property RDS_PASSWORD_PARAMETER)
  if [ -n "$rds" ]; then fetch_secret "$rds" rds-password; else rm -f "$STATE_DIR/secrets/rds-password"; fi
}

# This instance's private address from IMDSv2 (a session token first), written as the relay URL and the
# host id into the env file Sifu's container reads.
write_instance_env() {
  local token ip id
  token=$(curl -fsS -m 5 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' "$IMDS_URL/latest/api/token")
  ip=$(curl -fsS -m 5 -H "X-aws-ec2-metadata-token: $token" "$IMDS_URL/latest/meta-data/local-ipv4")
  id=$(curl -fsS -m 5 -H "X-aws-ec2-metadata-token: $token" "$IMDS_URL/latest/meta-data/instance-id")
  [[ $ip =~ ^[0-9.]+$ ]] || { log "IMDS gave no private IPv4 address: '$ip'"; exit 1; }
  mkdir -p "$STATE_DIR"
  local tmp
  tmp=$(umask 077 && mktemp "$STATE_DIR/.instance.XXXXXX")
  {
    echo "SIFU_CLUSTER_RELAY_URL=http://$ip:$SIFU_EB_RELAY_PORT"
    echo "SIFU_CLUSTER_HOST_ID=$id"
  } >"$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$STATE_DIR/instance.env"
}

# Learners' containers must never reach the instance metadata service (its credentials are the
# instance role's), even on an egress network (`spawner.docker.network`): containers' traffic is
# forwarded, so a REJECT in DOCKER-USER (or FORWARD before Docker made it) cuts it; the host's own
# traffic (OUTPUT), which these hooks need, is untouched. Idempotent.
block_metadata_for_containers() {
  local chain=FORWARD
  "$IPTABLES" -n -L DOCKER-USER >/dev/null 2>&1 && chain=DOCKER-USER
  local rule=(-d 169.254.169.254/32 -j REJECT --reject-with icmp-net-unreachable)
  "$IPTABLES" -C "$chain" "${rule[@]}" 2>/dev/null || "$IPTABLES" -I "$chain" 1 "${rule[@]}"
}

# The bundle's nginx configuration, installed into the instance's nginx (with Docker Compose, EB runs no
# proxy of its own), checked before anything is reloaded.
install_nginx_conf() {
  local src="$here/nginx/conf.d"
  mkdir -p "$NGINX_CONF_DIR"
  rm -f "$NGINX_CONF_DIR"/sifu-*.conf
  cp "$src"/sifu-*.conf "$NGINX_CONF_DIR/"
  if [ -z "${SIFU_EB_NGINX_TEST:-}" ]; then nginx -t; else $SIFU_EB_NGINX_TEST; fi
}

reload_nginx() {
  if [ -n "${SIFU_EB_NGINX_RELOAD:-}" ]; then $SIFU_EB_NGINX_RELOAD; return; fi
  systemctl enable nginx >/dev/null 2>&1 || true
  systemctl reload-or-restart nginx
}

# Sifu answers on its hub port (through nginx): the deployment succeeded on this instance.
wait_healthy() {
  local url="http://127.0.0.1:$SIFU_EB_HUB_PORT/hub/health"
  for _ in $(seq 1 120); do
    curl -fsS -m 2 -o /dev/null "$url" && return 0
    sleep 1
  done
  log "Sifu did not answer $url within 120 s"
  exit 1
}
