#!/bin/bash
set -euo pipefail
apt-get update
apt-get install -y \
  nginx \
  git
mkdir -p /srv/app
cd /srv/app
cat > /etc/app.conf <<'EOF'
port=8080
user=app
workers=4
EOF
echo one
echo two
echo three
echo four
echo five
if [ ! -d /srv/app/.git ]; then
  git clone https://example.com/app.git /srv/app
  echo cloned
else
  git -C /srv/app pull
fi
systemctl enable nginx
useradd -m deploy \
  -s /bin/bash \
  -G sudo
echo six
echo seven
echo eight
echo nine
echo done
