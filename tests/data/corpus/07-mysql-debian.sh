#!/bin/bash
# MySQL server bound to all interfaces with a tuned buffer pool
export DEBIAN_FRONTEND=noninteractive
sudo apt-get update
sudo apt-get install -y mysql-server

sudo sed -i 's/^bind-address.*/bind-address = 0.0.0.0/' /etc/mysql/mysql.conf.d/mysqld.cnf
sudo tee /etc/mysql/mysql.conf.d/tuning.cnf > /dev/null << 'EOF'
[mysqld]
innodb_buffer_pool_size = 1G
max_connections = 300
slow_query_log = 1
EOF

sudo systemctl restart mysql
sudo systemctl enable mysql
sudo mysql -e "CREATE DATABASE IF NOT EXISTS shop;"
