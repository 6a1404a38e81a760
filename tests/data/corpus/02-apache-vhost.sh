#!/bin/bash
# Apache with two name-based virtual hosts and mod_ssl (Debian 12)
set -e
apt-get update
apt-get install -y apache2 libapache2-mod-php php-mysql

a2enmod ssl
a2enmod rewrite headers

for site in blog shop; do
  mkdir -p /var/www/$site/public
  chown -R www-data:www-data /var/www/$site
done

cat > /etc/apache2/sites-available/blog.conf <<'EOF'
<VirtualHost *:80>
    ServerName blog.example.org
    DocumentRoot /var/www/blog/public
    ErrorLog ${APACHE_LOG_DIR}/blog-error.log
    CustomLog ${APACHE_LOG_DIR}/blog-access.log combined
</VirtualHost>
EOF

cat > /etc/apache2/sites-available/shop.conf <<'EOF'
<VirtualHost *:80>
    ServerName shop.example.org
    DocumentRoot /var/www/shop/public
    <Directory /var/www/shop/public>
        AllowOverride All
    </Directory>
</VirtualHost>
EOF

a2ensite blog shop
a2dissite 000-default
apachectl configtest
systemctl restart apache2
