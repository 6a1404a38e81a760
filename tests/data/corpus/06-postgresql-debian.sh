#!/usr/bin/env bash
# PostgreSQL 15 on Debian, listening on the private network
set -euo pipefail

apt-get update
apt-get install -y postgresql postgresql-contrib

sed -i "s/^#listen_addresses = 'localhost'/listen_addresses = '*'/" /etc/postgresql/15/main/postgresql.conf
echo "host    all    all    10.0.0.0/8    scram-sha-256" >> /etc/postgresql/15/main/pg_hba.conf

systemctl restart postgresql
systemctl enable postgresql

sudo -u postgres psql -c "CREATE USER app WITH PASSWORD 'changeme';"
sudo -u postgres createdb -O app appdb
ufw allow from 10.0.0.0/8 to any port 5432 proto tcp
