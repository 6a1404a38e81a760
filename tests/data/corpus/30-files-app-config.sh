#!/bin/bash
# Application configuration tree for the billing service
set -e
BASE=/tmp/corpus-root/billing

mkdir -p $BASE/etc $BASE/log $BASE/run
cat > $BASE/etc/billing.ini <<'EOF'
[server]
port = 8080
workers = 4

[database]
host = db.internal
name = billing
EOF
sed -i 's/^workers = 4/workers = 8/' $BASE/etc/billing.ini
echo "debug = false" >> $BASE/etc/billing.ini
chmod 640 $BASE/etc/billing.ini
cp $BASE/etc/billing.ini $BASE/etc/billing.ini.orig
ln -s $BASE/etc/billing.ini $BASE/billing.ini
touch $BASE/log/billing.log
