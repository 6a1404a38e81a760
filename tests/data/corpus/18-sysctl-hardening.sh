#!/bin/bash
# Kernel network hardening
set -e
cat <<'EOF' | sudo tee /etc/sysctl.d/99-hardening.conf
net.ipv4.conf.all.rp_filter = 1
net.ipv4.conf.all.accept_redirects = 0
net.ipv4.conf.all.send_redirects = 0
net.ipv4.tcp_syncookies = 1
kernel.kptr_restrict = 2
EOF
sudo sysctl -w net.ipv4.ip_forward=0
sudo sysctl -w fs.file-max=2097152
sudo sysctl --system
sudo modprobe br_netfilter
echo br_netfilter | sudo tee /etc/modules-load.d/br_netfilter.conf
