#!/bin/bash
# firewalld zones on CentOS Stream
set -e
dnf install -y firewalld
systemctl enable --now firewalld
firewall-cmd --permanent --zone=public --add-service=ssh
firewall-cmd --permanent --zone=public --add-port=8080/tcp
firewall-cmd --permanent --zone=public --remove-service=dhcpv6-client
firewall-cmd --permanent --zone=trusted --add-source=10.10.0.0/16
firewall-cmd --reload
