#!/bin/sh
# Sifu's container entrypoint on Elastic Beanstalk: the RDS_* variables EB gives the instance become
# SIFU_STORE_URL in this process's environment only (built from the environment, never a command line),
# then Sifu replaces this shell.
set -eu
secrets=/run/secrets/sifu
# A database the deployment made itself: its password is a file the prebuild hook read from SSM.
if [ -z "${RDS_PASSWORD:-}" ] && [ -f "$secrets/rds-password" ]; then
  RDS_PASSWORD=$(cat "$secrets/rds-password")
  export RDS_PASSWORD
fi
if [ -z "${SIFU_STORE_URL:-}" ] && [ -n "${RDS_HOSTNAME:-}" ]; then
  SIFU_STORE_URL=$(node -e '
    const e = process.env, q = encodeURIComponent;
    process.stdout.write(`postgres://${q(e.RDS_USERNAME)}:${q(e.RDS_PASSWORD)}@${e.RDS_HOSTNAME}:${e.RDS_PORT || 5432}/${q(e.RDS_DB_NAME)}`);
  ')
  export SIFU_STORE_URL
fi
unset RDS_PASSWORD
exec node /opt/sifu/dist/cli/main.js "$@"
