#!/bin/bash
# Baseline for RHEL-family servers
set -euo pipefail
yum -y update
yum -y install epel-release
yum -y install vim-enhanced htop tmux wget policycoreutils-python-utils
setsebool -P httpd_can_network_connect_db on
systemctl disable --now postfix
systemctl mask kdump
firewall-cmd --permanent --add-port=9090/tcp
firewall-cmd --reload
