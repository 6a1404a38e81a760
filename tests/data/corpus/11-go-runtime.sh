#!/bin/bash
# Go 1.22 in /usr/local/go
set -euo pipefail
GO_VERSION=1.22.4
cd /tmp
wget -q https://go.dev/dl/go${GO_VERSION}.linux-amd64.tar.gz
sudo rm -rf /usr/local/go
sudo tar -C /usr/local -xzf go${GO_VERSION}.linux-amd64.tar.gz
echo 'export PATH=$PATH:/usr/local/go/bin' | sudo tee /etc/profile.d/go.sh
sudo chmod 644 /etc/profile.d/go.sh
rm go${GO_VERSION}.linux-amd64.tar.gz
