#!/bin/bash
# Apache httpd with TLS on Rocky Linux 9, SELinux enforcing
set -euo pipefail

sudo dnf install -y httpd mod_ssl
sudo mkdir -p /var/www/intranet
echo "<h1>Intranet</h1>" | sudo tee /var/www/intranet/index.html

sudo tee /etc/httpd/conf.d/intranet.conf <<'EOF'
<VirtualHost *:443>
    ServerName intranet.corp.local
    DocumentRoot /var/www/intranet
    SSLEngine on
    SSLCertificateFile /etc/pki/tls/certs/localhost.crt
    SSLCertificateKeyFile /etc/pki/tls/private/localhost.key
</VirtualHost>
EOF

sudo setsebool -P httpd_can_network_connect on
sudo firewall-cmd --permanent --add-service=http
sudo firewall-cmd --permanent --add-service=https
sudo firewall-cmd --reload
sudo systemctl enable --now httpd
