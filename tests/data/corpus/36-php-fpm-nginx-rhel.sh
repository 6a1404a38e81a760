#!/bin/bash
# nginx + PHP-FPM on Rocky Linux 9
set -e
dnf module enable -y php:8.2
dnf install -y nginx php-fpm php-mysqlnd php-opcache
sed -i 's/^user = apache/user = nginx/' /etc/php-fpm.d/www.conf
sed -i 's/^group = apache/group = nginx/' /etc/php-fpm.d/www.conf
cat > /etc/nginx/conf.d/app.conf <<'EOF'
server {
    listen 80 default_server;
    root /usr/share/nginx/html;
    index index.php;
    location ~ \.php$ {
        fastcgi_pass unix:/run/php-fpm/www.sock;
        include fastcgi_params;
        fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
    }
}
EOF
setsebool -P httpd_execmem 1
systemctl enable --now php-fpm nginx
firewall-cmd --permanent --add-service=http
firewall-cmd --reload
