#!/bin/bash
# fail2ban protecting sshd and nginx
set -euo pipefail
apt-get install -y fail2ban

cat > /etc/fail2ban/jail.local <<'EOF'
[DEFAULT]
bantime  = 1h
findtime = 10m
maxretry = 5
backend = systemd

[sshd]
enabled = true

[nginx-http-auth]
enabled = true
EOF

systemctl enable --now fail2ban
systemctl restart fail2ban
