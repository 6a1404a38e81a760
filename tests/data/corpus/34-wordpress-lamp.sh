#!/bin/bash
# WordPress on a LAMP stack
set -euo pipefail
sudo apt-get update
sudo apt-get install -y apache2 mariadb-server php php-mysql php-xml php-curl unzip

cd /tmp
curl -LO https://wordpress.org/latest.tar.gz
sudo tar -xzf latest.tar.gz -C /var/www/
sudo chown -R www-data:www-data /var/www/wordpress
sudo find /var/www/wordpress -type d -exec chmod 750 {} \;

sudo mysql -e "CREATE DATABASE wordpress DEFAULT CHARACTER SET utf8mb4;"
sudo a2enmod rewrite
sudo sed -i 's|DocumentRoot /var/www/html|DocumentRoot /var/www/wordpress|' /etc/apache2/sites-available/000-default.conf
sudo systemctl restart apache2
