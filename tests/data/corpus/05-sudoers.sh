#!/bin/bash
# Passwordless sudo for the deploy user, restricted sudo for operators
set -e

sudo useradd -m -s /bin/bash deploy
sudo groupadd operators

echo "deploy ALL=(ALL) NOPASSWD:ALL" | sudo tee /etc/sudoers.d/90-deploy
sudo chmod 440 /etc/sudoers.d/90-deploy

sudo tee /etc/sudoers.d/91-operators > /dev/null <<'EOF'
Cmnd_Alias SERVICES = /usr/bin/systemctl restart *, /usr/bin/systemctl status *
%operators ALL=(root) NOPASSWD: SERVICES
EOF
sudo chmod 0440 /etc/sudoers.d/91-operators

sudo visudo -c
