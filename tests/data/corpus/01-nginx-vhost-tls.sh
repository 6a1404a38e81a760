#!/usr/bin/env bash
# nginx reverse proxy for app.example.com with a self-signed certificate (Ubuntu 22.04)
set -euo pipefail

DOMAIN=app.example.com
WEBROOT=/var/www/$DOMAIN

sudo apt-get update
sudo apt-get install -y nginx openssl

sudo mkdir -p $WEBROOT/html
sudo mkdir -p /etc/nginx/ssl
sudo openssl req -x509 -nodes -days 365 -newkey rsa:2048 \
    -keyout /etc/nginx/ssl/$DOMAIN.key \
    -out /etc/nginx/ssl/$DOMAIN.crt \
    -subj "/CN=$DOMAIN"
sudo chmod 600 /etc/nginx/ssl/$DOMAIN.key

sudo tee /etc/nginx/sites-available/$DOMAIN > /dev/null <<EOF
server {
    listen 80;
    server_name $DOMAIN;
    return 301 https://\$host\$request_uri;
}

server {
    listen 443 ssl;
    server_name $DOMAIN;
    ssl_certificate     /etc/nginx/ssl/$DOMAIN.crt;
    ssl_certificate_key /etc/nginx/ssl/$DOMAIN.key;
    root $WEBROOT/html;

    location / {
        proxy_pass http://127.0.0.1:8000;
        proxy_set_header Host \$host;
    }
}
EOF

sudo ln -sf /etc/nginx/sites-available/$DOMAIN /etc/nginx/sites-enabled/$DOMAIN
sudo rm -f /etc/nginx/sites-enabled/default
sudo nginx -t
sudo systemctl reload nginx
sudo systemctl enable nginx
