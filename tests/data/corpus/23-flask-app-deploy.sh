#!/bin/bash
# Deploy the inventory Flask app behind gunicorn
set -euo pipefail

APP_DIR=/opt/inventory
sudo apt-get update
sudo apt-get install -y git python3-venv
sudo useradd --system --create-home --home-dir $APP_DIR inventory || true

sudo git clone https://github.com/example/inventory.git $APP_DIR/src
cd $APP_DIR/src
sudo python3 -m venv $APP_DIR/venv
sudo $APP_DIR/venv/bin/pip install -r requirements.txt
sudo $APP_DIR/venv/bin/pip install gunicorn
sudo chown -R inventory:inventory $APP_DIR

sudo tee /etc/systemd/system/inventory.service > /dev/null <<EOF
[Unit]
Description=Inventory web app
After=network.target

[Service]
User=inventory
WorkingDirectory=$APP_DIR/src
Environment=FLASK_ENV=production
ExecStart=$APP_DIR/venv/bin/gunicorn -w 4 -b 127.0.0.1:8000 app:app
Restart=always

[Install]
WantedBy=multi-user.target
EOF

sudo systemctl daemon-reload
sudo systemctl enable --now inventory
