#!/bin/bash
# Shared storage from the NAS
set -euo pipefail
apt-get install -y nfs-common
mkdir -p /mnt/shared
echo "nas.lan:/export/shared  /mnt/shared  nfs  defaults,_netdev,noatime  0  0" >> /etc/fstab
mount -a
df -h /mnt/shared
