#!/bin/bash
# Base identity of a new VM
sudo timedatectl set-timezone Europe/Berlin
sudo hostnamectl set-hostname web01.example.com
echo "127.0.1.1 web01.example.com web01" | sudo tee -a /etc/hosts
sudo apt-get install -y chrony
sudo systemctl enable --now chrony
sudo localectl set-locale LANG=en_US.UTF-8
