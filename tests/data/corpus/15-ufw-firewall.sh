#!/bin/bash
# Default-deny firewall with ufw
sudo apt-get install -y ufw
sudo ufw default deny incoming
sudo ufw default allow outgoing
sudo ufw allow OpenSSH
sudo ufw allow 80/tcp
sudo ufw allow 443/tcp
sudo ufw allow from 192.168.10.0/24 to any port 9100
sudo ufw limit ssh
sudo ufw --force enable
