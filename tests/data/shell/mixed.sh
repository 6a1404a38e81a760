#!/bin/bash
# Provision a web server
set -euo pipefail

sudo apt-get update
sudo apt-get install -y \
  nginx \
  git \
  curl
export APP_HOME=/srv/app
cd "$APP_HOME"

cat > /etc/nginx/conf.d/app.conf <<'EOF'
server {
    listen 80;
    root /srv/app/public;
}
EOF

if [ ! -d /srv/app/.git ]; then
  git clone https://github.com/example/app.git /srv/app
else
  git -C /srv/app pull
fi

for svc in nginx cron; do
  sudo systemctl enable --now "$svc"
done

case "$(uname -m)" in
  x86_64) ARCH=amd64 ;;
  aarch64) ARCH=arm64 ;;
  *) echo "unsupported"; exit 1 ;;
esac

echo "Welcome to the app server.
Managed by Ansible." | sudo tee /etc/motd

deploy() {
  sudo systemctl restart nginx
}
deploy
