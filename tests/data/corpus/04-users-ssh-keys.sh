#!/bin/bash
# Team accounts with SSH keys
set -eu

groupadd -f developers

useradd -m -s /bin/bash -G developers,sudo alice
useradd -m -s /bin/bash -G developers bob

mkdir -p /home/alice/.ssh
echo "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGk1qvF3x7alice alice@laptop" >> /home/alice/.ssh/authorized_keys
chmod 700 /home/alice/.ssh
chmod 600 /home/alice/.ssh/authorized_keys
chown -R alice:alice /home/alice/.ssh

mkdir -p /home/bob/.ssh
echo "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB0bk3yZbob bob@desktop" >> /home/bob/.ssh/authorized_keys
chmod 700 /home/bob/.ssh
chmod 600 /home/bob/.ssh/authorized_keys
chown -R bob:bob /home/bob/.ssh

usermod -aG docker alice
passwd -l bob
