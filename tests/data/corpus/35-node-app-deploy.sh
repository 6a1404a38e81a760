#!/bin/bash
# Deploy the storefront Node.js service from its release branch
set -euo pipefail
export NODE_ENV=production

sudo useradd --system --create-home --home-dir /srv/storefront storefront
sudo -u storefront git clone -b release https://github.com/example/storefront.git /srv/storefront/app
cd /srv/storefront/app
sudo -u storefront npm ci --omit=dev

sudo cp deploy/storefront.service /etc/systemd/system/storefront.service
sudo mkdir -p /etc/storefront
echo "PORT=3000" | sudo tee /etc/storefront/env
echo "REDIS_URL=redis://127.0.0.1:6379" | sudo tee -a /etc/storefront/env
sudo systemctl daemon-reload
sudo systemctl enable storefront
sudo systemctl restart storefront
