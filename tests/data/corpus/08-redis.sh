#!/bin/bash
# Redis as a systemd-supervised cache
set -euo pipefail
sudo apt update
sudo apt install -y redis-server

sudo sed -i 's/^supervised no/supervised systemd/' /etc/redis/redis.conf
sudo sed -i 's/^# maxmemory <bytes>/maxmemory 512mb/' /etc/redis/redis.conf
sudo sed -i 's/^# maxmemory-policy noeviction/maxmemory-policy allkeys-lru/' /etc/redis/redis.conf

echo "vm.overcommit_memory = 1" | sudo tee /etc/sysctl.d/60-redis.conf
sudo sysctl -w vm.overcommit_memory=1

sudo systemctl restart redis-server
sudo systemctl enable redis-server
