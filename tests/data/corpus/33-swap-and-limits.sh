#!/bin/bash
# 2 GiB swap file and higher open-file limits
set -euo pipefail
if [ ! -f /swapfile ]; then
  fallocate -l 2G /swapfile
  chmod 600 /swapfile
  mkswap /swapfile
fi
swapon /swapfile || true
echo '/swapfile none swap sw 0 0' >> /etc/fstab
sysctl -w vm.swappiness=10
echo "vm.swappiness=10" >> /etc/sysctl.conf

cat >> /etc/security/limits.conf <<'EOF'
*    soft    nofile    65535
*    hard    nofile    65535
EOF
