#!/bin/sh
# Run once by the postgres image when its data volume is first created: the app's login
# credit_app with its password (README "Database roles"); its grants come with the migrations.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v password="$CREDIT_APP_PASSWORD" <<'SQL'
CREATE ROLE credit_app LOGIN PASSWORD :'password';
SQL
