"""Each rule: one input line (or heredoc) -> the exact task it becomes."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from playbook.convert import convert_script
from playbook.rules import Invocation, apply_rules
from playbook.rules.base import START_DIRECTORY, UNKNOWN_DIRECTORY

CASES: list[tuple[str, list[dict[str, Any]]]] = [
    ('umount /tmp/parallels',
     [{'name': 'Unmount /tmp/parallels', 'ansible.posix.mount': {'path': '/tmp/parallels', 'state': 'unmounted'}}]),
    ('usermod -aG docker $USER',  # who runs the script, as $(whoami)
     [{'name': 'Add ansible_facts.user_id to the docker group',
       'ansible.builtin.user': {'name': '{{ ansible_facts.user_id }}', 'groups': ['docker'], 'append': True}}]),
    ('cd /var/www/app\nphp -r "copy(\'https://getcomposer.org/installer\', \'composer-setup.php\');"',
     [{'name': 'Download https://getcomposer.org/installer to /var/www/app/composer-setup.php',
       'ansible.builtin.get_url': {'url': 'https://getcomposer.org/installer', 'dest': '/var/www/app/composer-setup.php',
                                   'mode': '0644', 'force': True}}]),
    ('dnf config-manager --add-repo file:///bigtop-home/output',  # dnf writes bigtop-home_output.repo
     [{'name': 'Add the repository bigtop-home_output',
       'ansible.builtin.yum_repository': {'name': 'bigtop-home_output',
                                          'description': 'created by dnf config-manager from file:///bigtop-home/output',
                                          'baseurl': 'file:///bigtop-home/output', 'enabled': True}}]),
    ('yum-config-manager --add-repo https://example.com/el/7/',
     [{'name': 'Add the repository example.com_el_7_',
       'ansible.builtin.yum_repository': {'name': 'example.com_el_7_', 'description': 'added from: https://example.com/el/7/',
                                          'baseurl': 'https://example.com/el/7/', 'enabled': True}}]),
    ('apt-get install -y --allow-remove-essential --fix-missing --fix-broken nodejs',
     [{'name': 'Install nodejs', 'ansible.builtin.apt': {'name': 'nodejs', 'state': 'fixed'}}]),
    ('fallocate -l 2G /swapfile',
     [{'name': 'Make /swapfile 2G long',
       'community.general.filesize': {'path': '/swapfile', 'size': '2G', 'sparse': False}}]),
    ('truncate -s 0 /etc/machine-id /var/lib/dbus/machine-id',
     [{'name': 'Empty /etc/machine-id', 'community.general.filesize': {'path': '/etc/machine-id', 'size': '0'}},
      {'name': 'Empty /var/lib/dbus/machine-id',
       'community.general.filesize': {'path': '/var/lib/dbus/machine-id', 'size': '0'}}]),
    ('mkswap /swapfile -L swap',
     [{'name': 'Make a swap area on /swapfile',
       'community.general.filesystem': {'fstype': 'swap', 'dev': '/swapfile', 'opts': '-L swap'}}]),
    ('ulimit -n 4096\numask u=rwx,g=,o=', []),
    ('sudo apt-get install -y --no-install-recommends nginx git',
     [{'name': 'Install nginx and git',
  'ansible.builtin.apt': {'name': ['nginx', 'git'],
                          'state': 'present',
                          'install_recommends': False},
  'become': True}]),
    ('sudo apt-get install -y --allow-downgrades --allow-change-held-packages -o Dpkg::Options::=--force-confdef '
     '-o Dpkg::Options::="--force-confnew" nodejs',
     [{'name': 'Install nodejs',
  'ansible.builtin.apt': {'name': 'nodejs', 'state': 'present', 'allow_downgrade': True,
                          'allow_change_held_packages': True, 'dpkg_options': 'force-confdef,force-confnew'},
  'become': True}]),
    ('sudo apt-get remove --purge -y apache2',
     [{'name': 'Remove apache2',
  'ansible.builtin.apt': {'name': 'apache2', 'state': 'absent', 'purge': True},
  'become': True}]),
    ('sudo apt-get upgrade -y',
     [{'name': 'Upgrade all packages',
  'ansible.builtin.apt': {'upgrade': 'safe'},
  'become': True}]),
    ('sudo apt-get dist-upgrade -y',
     [{'name': 'Upgrade all packages',
  'ansible.builtin.apt': {'upgrade': 'dist'},
  'become': True}]),
    ('sudo apt-get update',
     [{'name': 'Update the apt package cache',
  'ansible.builtin.apt': {'update_cache': True, 'cache_valid_time': 3600},
  'become': True}]),
    ('sudo apt-get autoremove -y',
     [{'name': 'Remove packages that are no longer needed',
  'ansible.builtin.apt': {'autoremove': True},
  'become': True}]),
    ('sudo dnf install -y httpd mod_ssl',
     [{'name': 'Install httpd and mod_ssl',
  'ansible.builtin.dnf': {'name': ['httpd', 'mod_ssl'], 'state': 'present'},
  'become': True}]),
    ('sudo yum update -y',
     [{'name': 'Upgrade all packages',
  'ansible.builtin.dnf': {'name': '*', 'state': 'latest', 'update_only': True},
  'become': True}]),
    ('sudo dnf remove -y telnet',
     [{'name': 'Remove telnet',
  'ansible.builtin.dnf': {'name': 'telnet', 'state': 'absent'},
  'become': True}]),
    ('sudo dnf groupinstall -y "Development Tools"',
     [{'name': 'Install the Development Tools group',
  'ansible.builtin.dnf': {'name': '@Development Tools', 'state': 'present'},
  'become': True}]),
    ('sudo systemctl start nginx',
     [{'name': 'Start nginx',
  'ansible.builtin.systemd_service': {'name': 'nginx', 'state': 'started'},
  'become': True}]),
    ('sudo systemctl stop apache2.service',
     [{'name': 'Stop apache2',
  'ansible.builtin.systemd_service': {'name': 'apache2', 'state': 'stopped'},
  'become': True}]),
    ('sudo systemctl enable docker',
     [{'name': 'Enable docker',
  'ansible.builtin.systemd_service': {'name': 'docker', 'enabled': True},
  'become': True}]),
    ('sudo systemctl enable --now docker',
     [{'name': 'Enable and start docker',
  'ansible.builtin.systemd_service': {'name': 'docker',
                                      'enabled': True,
                                      'state': 'started'},
  'become': True}]),
    ('sudo systemctl disable --now bluetooth',
     [{'name': 'Disable and stop bluetooth',
  'ansible.builtin.systemd_service': {'name': 'bluetooth',
                                      'enabled': False,
                                      'state': 'stopped'},
  'become': True}]),
    ('sudo systemctl daemon-reload',
     [{'name': 'Reload the systemd configuration',
  'ansible.builtin.systemd_service': {'daemon_reload': True},
  'become': True}]),
    ('sudo systemctl restart nginx',
     [{'name': 'Restart nginx',
  'ansible.builtin.systemd_service': {'name': 'nginx', 'state': 'restarted'},
  'become': True}]),
    ('sudo systemctl mask ctrl-alt-del.target',
     [{'name': 'Mask ctrl-alt-del.target',
  'ansible.builtin.systemd_service': {'name': 'ctrl-alt-del.target', 'masked': True},
  'become': True}]),
    ('sudo service nginx reload',
     [{'name': 'Reload nginx',
  'ansible.builtin.service': {'name': 'nginx', 'state': 'reloaded'},
  'become': True}]),
    ('sudo useradd -r -M -s /usr/sbin/nologin -u 1001 app',
     [{'name': 'Create the user app',
  'ansible.builtin.user': {'name': 'app',
                           'create_home': False,
                           'system': True,
                           'shell': '/usr/sbin/nologin',
                           'uid': 1001,
                           'state': 'present'},
  'become': True}]),
    ('sudo usermod -aG docker deploy',
     [{'name': 'Add deploy to the docker group',
  'ansible.builtin.user': {'name': 'deploy', 'groups': ['docker'], 'append': True},
  'become': True}]),
    ('sudo groupadd -g 2000 devs',
     [{'name': 'Create the group devs',
  'ansible.builtin.group': {'name': 'devs', 'state': 'present', 'gid': 2000},
  'become': True}]),
    ('sudo adduser --disabled-password --gecos "" deploy',
     [{'name': 'Create the user deploy',
  'ansible.builtin.user': {'name': 'deploy',
                           'password': '!',
                           'update_password': 'on_create',
                           'state': 'present'},
  'become': True}]),
    ('sudo mkdir -p -m 750 /srv/a /srv/b',
     [{'name': 'Create the directories /srv/a and /srv/b',
  'ansible.builtin.file': {'path': '{{ item }}', 'state': 'directory', 'mode': '0750'},
  'loop': ['/srv/a', '/srv/b'],
  'become': True}]),
    ('touch /tmp/marker',
     [{'name': 'Create the empty file /tmp/marker',
  'ansible.builtin.file': {'path': '/tmp/marker',
                           'state': 'touch',
                           'mode': '0644',
                           'modification_time': 'preserve',
                           'access_time': 'preserve'}}]),
    ('sudo rm -rf /opt/old',
     [{'name': 'Remove /opt/old',
  'ansible.builtin.file': {'path': '/opt/old', 'state': 'absent'},
  'become': True}]),
    ('ln -s /opt/app/current /var/www/app',
     [{'name': 'Create the symbolic link /var/www/app',
  'ansible.builtin.file': {'src': '/opt/app/current',
                           'dest': '/var/www/app',
                           'state': 'link'}}]),
    ('sudo chmod -R 755 /var/www',
     [{'name': 'Set mode 0755 on /var/www',
  'ansible.builtin.file': {'path': '/var/www',
                           'state': 'directory',
                           'recurse': True,
                           'follow': False,
                           'mode': '0755'},
  'become': True}]),
    ('sudo chmod u+x /usr/local/bin/run.sh',
     [{'name': 'Set mode u+x on /usr/local/bin/run.sh',
  'ansible.builtin.file': {'path': '/usr/local/bin/run.sh', 'mode': 'u+x'},
  'become': True}]),
    ('sudo chown -R www-data:www-data /var/www',
     [{'name': 'Set owner www-data:www-data on /var/www',
  'ansible.builtin.file': {'path': '/var/www',
                           'state': 'directory',
                           'recurse': True,
                           'follow': False,
                           'owner': 'www-data',
                           'group': 'www-data'},
  'become': True}]),
    ('sudo chgrp adm /var/log/app.log',
     [{'name': 'Set group adm on /var/log/app.log',
  'ansible.builtin.file': {'path': '/var/log/app.log', 'group': 'adm'},
  'become': True}]),
    ('sudo cp /etc/nginx/nginx.conf /etc/nginx/nginx.conf.bak',
     [{'name': 'Copy /etc/nginx/nginx.conf to /etc/nginx/nginx.conf.bak',
  'ansible.builtin.copy': {'src': '/etc/nginx/nginx.conf',
                           'dest': '/etc/nginx/nginx.conf.bak',
                           'remote_src': True,
                           'mode': 'preserve'},
  'become': True}]),
    ('sudo shutdown -r now',
     [{'name': 'Reboot the host', 'ansible.builtin.reboot': {}, 'become': True}]),
    ('sudo mv /tmp/app.conf /etc/',
     [{'name': 'Move /tmp/app.conf to /etc/app.conf',
  'ansible.builtin.command': {'cmd': 'mv /tmp/app.conf /etc',
                              'creates': '/etc/app.conf',
                              'removes': '/tmp/app.conf'},
  'become': True}]),
    # into a directory that is there already: not skipped because the directory exists
    ('mv /tmp/kafka-streams-test.jar /opt/kafka/libs',
     [{'name': 'Move /tmp/kafka-streams-test.jar to /opt/kafka/libs',
  'ansible.builtin.command': {'cmd': 'mv /tmp/kafka-streams-test.jar /opt/kafka/libs',
                              'removes': '/tmp/kafka-streams-test.jar'}}]),
    ('sudo install -d -m 0700 -o postgres /var/lib/pgbackup',
     [{'name': 'Create the directory /var/lib/pgbackup',
  'ansible.builtin.file': {'path': '/var/lib/pgbackup',
                           'state': 'directory',
                           'owner': 'postgres',
                           'mode': '0700'},
  'become': True}]),
    ('echo \'hello "world"\' > /etc/motd',
     [{'name': 'Write /etc/motd',
  'ansible.builtin.copy': {'dest': '/etc/motd',
                           'content': 'hello "world"\n',
                           'mode': '0644'}}]),
    ('echo "export PATH=\\$PATH:/opt/bin" >> /etc/profile.d/path.sh',
     [{'name': 'Ensure a line is in /etc/profile.d/path.sh',
  'ansible.builtin.lineinfile': {'path': '/etc/profile.d/path.sh',
                                 'line': 'export PATH=$PATH:/opt/bin',
                                 'create': True,
                                 'mode': '0644'}}]),
    ("printf '%s\\n' a b | sudo tee /etc/list.conf",
     [{'name': 'Write /etc/list.conf',
  'ansible.builtin.copy': {'dest': '/etc/list.conf', 'content': 'a\nb\n', 'mode': '0644'},
  'become': True}]),
    ("cat > /etc/app/config.yml <<'EOF'\nname: {{ not jinja }}\npath: $HOME\nEOF",
     [{'name': 'Write /etc/app/config.yml',
  'ansible.builtin.copy': {'dest': '/etc/app/config.yml',
                           'content': '{% raw %}name: {{ not jinja }}\n'
                                      'path: $HOME\n'
                                      '{% endraw %}',
                           'mode': '0644'}}]),
    ("sudo sed -i 's|^#\\?Port 22$|Port 2222|' /etc/ssh/sshd_config",
     [{'name': 'Replace ^#\\?Port 22$ in /etc/ssh/sshd_config',
  'ansible.builtin.replace': {'path': '/etc/ssh/sshd_config',
                              'regexp': '^#?Port 22$',
                              'replace': 'Port 2222'},
  'become': True}]),
    ("sed -i -E 's/(max_connections) = [0-9]+/\\1 = 200/g' /etc/postgresql/main.conf",
     [{'name': 'Replace (max_connections) = [0-9]+ in /etc/postgresql/main.conf',
  'ansible.builtin.replace': {'path': '/etc/postgresql/main.conf',
                              'regexp': '(max_connections) = [0-9]+',
                              'replace': '\\g<1> = 200'}}]),
    ("sudo sed -i '/^#/d' /etc/app.conf",
     [{'name': 'Remove lines matching ^# from /etc/app.conf',
  'ansible.builtin.lineinfile': {'path': '/etc/app.conf',
                                 'regexp': '^#',
                                 'state': 'absent'},
  'become': True}]),
    ('wget -O /tmp/node.tar.xz https://nodejs.org/dist/v20.0.0/node-v20.0.0-linux-x64.tar.xz',
     [{'name': 'Download node.tar.xz to /tmp/node.tar.xz',
  'ansible.builtin.get_url': {'url': 'https://nodejs.org/dist/v20.0.0/node-v20.0.0-linux-x64.tar.xz',
                              'dest': '/tmp/node.tar.xz',
                              'mode': '0644'}}]),
    ('curl -fsSLo /usr/local/bin/kubectl https://dl.k8s.io/release/v1.30.0/bin/linux/amd64/kubectl',
     [{'name': 'Download kubectl to /usr/local/bin/kubectl',
  'ansible.builtin.get_url': {'url': 'https://dl.k8s.io/release/v1.30.0/bin/linux/amd64/kubectl',
                              'dest': '/usr/local/bin/kubectl',
                              'mode': '0644'}}]),
    ('curl -X POST -d \'{"a": 1}\' https://hooks.example.com/notify',
     [{'name': 'Call https://hooks.example.com/notify',
  'ansible.builtin.uri': {'url': 'https://hooks.example.com/notify',
                          'method': 'POST',
                          'body': '{"a": 1}',
                          'status_code': [200,
                                          201,
                                          202,
                                          204,
                                          301,
                                          302,
                                          304,
                                          400,
                                          401,
                                          403,
                                          404,
                                          500,
                                          503]}}]),
    ('sudo tar -xzf /tmp/app.tar.gz -C /opt/app',
     [{'name': 'Unpack app.tar.gz into /opt/app',
  'ansible.builtin.unarchive': {'src': '/tmp/app.tar.gz',
                                'dest': '/opt/app',
                                'remote_src': True},
  'become': True}]),
    ('unzip /tmp/site.zip -d /var/www/site',
     [{'name': 'Unpack site.zip into /var/www/site',
  'ansible.builtin.unarchive': {'src': '/tmp/site.zip',
                                'dest': '/var/www/site',
                                'remote_src': True}}]),
    ('git clone https://github.com/example/tool.git /opt/tool',
     [{'name': 'Clone https://github.com/example/tool.git into /opt/tool',
  'ansible.builtin.git': {'repo': 'https://github.com/example/tool.git',
                          'dest': '/opt/tool',
                          'version': 'HEAD',
                          'update': False,
                          'recursive': False}}]),
    ('pip3 install --user -U requests flask==3.0.0',
     [{'name': 'Install requests and flask==3.0.0 with pip',
  'ansible.builtin.pip': {'name': ['requests', 'flask==3.0.0'],
                          'state': 'latest',
                          'extra_args': '--user',
                          'executable': 'pip3'}}]),
    ('sudo npm install -g yarn typescript@5.4.0',
     [{'name': 'Install the yarn node package globally',
  'community.general.npm': {'name': 'yarn', 'global': True},
  'become': True},
 {'name': 'Install the typescript node package globally',
  'community.general.npm': {'name': 'typescript', 'version': '5.4.0', 'global': True},
  'become': True}]),
    ('echo "*/5 * * * * /usr/local/bin/check.sh" | crontab -',
     [{'name': 'Schedule cron job check.sh',
  'ansible.builtin.cron': {'name': 'cron job check.sh',
                           'minute': '*/5',
                           'job': '/usr/local/bin/check.sh'}}]),
    ('echo "30 2 * * 0 root /usr/local/bin/backup.sh" | sudo tee /etc/cron.d/backup',
     [{'name': 'Schedule the backup cron job',
  'ansible.builtin.cron': {'name': 'backup',
                           'minute': '30',
                           'hour': '2',
                           'weekday': '0',
                           'user': 'root',
                           'job': '/usr/local/bin/backup.sh',
                           'cron_file': 'backup'},
  'become': True}]),
    ('sudo sysctl -w vm.swappiness=10',
     [{'name': 'Set the kernel parameter vm.swappiness',
  'ansible.posix.sysctl': {'name': 'vm.swappiness',
                           'value': '10',
                           'sysctl_set': True,
                           'state': 'present'},
  'become': True}]),
    ('echo "vm.max_map_count=262144" | sudo tee /etc/sysctl.d/99-es.conf',
     [{'name': 'Set the kernel parameter vm.max_map_count',
  'ansible.posix.sysctl': {'name': 'vm.max_map_count',
                           'value': '262144',
                           'state': 'present',
                           'sysctl_file': '/etc/sysctl.d/99-es.conf'},
  'become': True}]),
    ('sudo mount -t ext4 /dev/sdb1 /data',
     [{'name': 'Mount /dev/sdb1 on /data',
  'ansible.posix.mount': {'src': '/dev/sdb1',
                          'path': '/data',
                          'fstype': 'ext4',
                          'state': 'ephemeral'},
  'become': True}]),
    ('echo "/dev/sdb1 /data ext4 defaults,noatime 0 2" | sudo tee -a /etc/fstab',
     [{'name': 'Add /data to /etc/fstab',
  'ansible.posix.mount': {'src': '/dev/sdb1',
                          'path': '/data',
                          'fstype': 'ext4',
                          'opts': 'defaults,noatime',
                          'dump': '0',
                          'passno': '2',
                          'state': 'present'},
  'become': True}]),
    ('sudo hostnamectl set-hostname db01.example.com',
     [{'name': 'Set the hostname to db01.example.com',
  'ansible.builtin.hostname': {'name': 'db01.example.com'},
  'become': True}]),
    ('sudo timedatectl set-timezone UTC',
     [{'name': 'Set the time zone to UTC',
  'community.general.timezone': {'name': 'UTC'},
  'become': True}]),
    ('sudo ufw allow from 10.0.0.0/8 to any port 5432 proto tcp',
     [{'name': 'Allow 5432/tcp from 10.0.0.0/8 in ufw',
  'community.general.ufw': {'rule': 'allow',
                            'from_ip': '10.0.0.0/8',
                            'to_port': '5432',
                            'proto': 'tcp'},
  'become': True}]),
    ('sudo ufw default deny incoming',
     [{'name': 'Set the ufw default policy for incoming traffic to deny',
  'community.general.ufw': {'default': 'deny', 'direction': 'incoming'},
  'become': True}]),
    ('sudo firewall-cmd --permanent --zone=public --add-port=443/tcp',
     [{'name': 'Allow 443/tcp in firewalld',
  'ansible.posix.firewalld': {'port': '443/tcp',
                              'zone': 'public',
                              'permanent': True,
                              'immediate': True,
                              'state': 'enabled'},
  'become': True}]),
    ('sudo setsebool -P httpd_can_network_connect_db 1',
     [{'name': 'Set the SELinux boolean httpd_can_network_connect_db to on',
  'ansible.posix.seboolean': {'name': 'httpd_can_network_connect_db',
                              'state': True,
                              'persistent': True},
  'become': True}]),
    ('echo "ssh-ed25519 AAAAC3Nza key@host" >> /root/.ssh/authorized_keys',
     [{'name': 'Authorize an SSH key for root',
  'ansible.posix.authorized_key': {'user': 'root',
                                   'key': 'ssh-ed25519 AAAAC3Nza key@host',
                                   'state': 'present'}}]),
    ('sudo add-apt-repository -y ppa:deadsnakes/ppa',
     [{'name': 'Add the ppa:deadsnakes/ppa apt repository',
  'ansible.builtin.apt_repository': {'repo': 'ppa:deadsnakes/ppa', 'state': 'present'},
  'become': True}]),
    ('sudo modprobe br_netfilter',
     [{'name': 'Load the br_netfilter kernel module',
  'community.general.modprobe': {'name': 'br_netfilter', 'state': 'present'},
  'become': True}]),
    ('sudo locale-gen en_US.UTF-8',
     [{'name': 'Generate the en_US.UTF-8 locale',
  'community.general.locale_gen': {'name': 'en_US.UTF-8', 'state': 'present'},
  'become': True}]),
    ('sudo a2enmod rewrite',
     [{'name': 'Enable the Apache module rewrite',
  'community.general.apache2_module': {'name': 'rewrite', 'state': 'present'},
  'become': True}]),
    ('sleep 5',
     [{'name': 'Wait 5 seconds', 'ansible.builtin.pause': {'seconds': 5}}]),
    ('cat <<EOF | sudo tee -a /etc/hosts\n10.0.0.1 db\n10.0.0.2 cache\nEOF',
     [{'name': 'Add a block of lines to /etc/hosts',
  'ansible.builtin.blockinfile': {'path': '/etc/hosts',
                                  'block': '10.0.0.1 db\n10.0.0.2 cache',
                                  'create': True,
                                  'mode': '0644'},
  'become': True}]),
    ('sudo tee /etc/apt/apt.conf.d/99proxy > /dev/null <<-END\n\tAcquire::http::Proxy "http://proxy:3128";\n\tEND',
     [{'name': 'Write /etc/apt/apt.conf.d/99proxy',
  'ansible.builtin.copy': {'dest': '/etc/apt/apt.conf.d/99proxy',
                           'content': 'Acquire::http::Proxy "http://proxy:3128";\n',
                           'mode': '0644'},
  'become': True}]),
    ('sudo bash -c \'echo "deb http://repo/ stable main" > /etc/apt/sources.list.d/repo.list\'',
     [{'name': 'Add the apt repository http://repo/ stable',
  'ansible.builtin.apt_repository': {'repo': 'deb http://repo/ stable main', 'filename': 'repo',
                                     'state': 'present', 'update_cache': False},
  'become': True}]),
    ("echo -e 'a\\tb' > /tmp/tabs",
     [{'name': 'Write /tmp/tabs',
  'ansible.builtin.copy': {'dest': '/tmp/tabs', 'content': 'a\tb\n', 'mode': '0644'}}]),
    ('sudo dpkg -i /tmp/pkg.deb',
     [{'name': 'Install the package file /tmp/pkg.deb',
  'ansible.builtin.apt': {'deb': '/tmp/pkg.deb'},
  'become': True}]),
    ('sudo rpm --import https://repo.example.com/key.asc',
     [{'name': 'Import the RPM signing key https://repo.example.com/key.asc',
  'ansible.builtin.rpm_key': {'key': 'https://repo.example.com/key.asc',
                              'state': 'present'},
  'become': True}]),
    ('sudo snap install --classic certbot',
     [{'name': 'Install the certbot snap',
  'community.general.snap': {'name': 'certbot', 'classic': True},
  'become': True}]),
    ('python3 -m pip install --upgrade pip',
     [{'name': 'Install pip with pip',
  'ansible.builtin.pip': {'name': 'pip', 'state': 'latest'}}]),
    ('sudo apk add --update curl bash',
     [{'name': 'Install curl and bash',
  'community.general.apk': {'name': ['curl', 'bash'],
                            'state': 'present',
                            'update_cache': True},
  'become': True}]),
    ('sudo chkconfig httpd on',
     [{'name': 'Enable httpd at boot',
  'ansible.builtin.service': {'name': 'httpd', 'enabled': True},
  'become': True}]),
    ('sudo groupdel olddevs',
     [{'name': 'Remove the group olddevs',
  'ansible.builtin.group': {'name': 'olddevs', 'state': 'absent'},
  'become': True}]),
    ('sudo hostname web02',
     [{'name': 'Set the hostname to web02',
  'ansible.builtin.hostname': {'name': 'web02', 'use': 'systemd'},
  'become': True}]),
    ('sudo update-rc.d myapp defaults',
     [{'name': 'Enable myapp at boot',
  'ansible.builtin.service': {'name': 'myapp', 'enabled': True},
  'become': True}]),
    ('sudo userdel -r olduser',
     [{'name': 'Remove the user olduser',
  'ansible.builtin.user': {'name': 'olduser', 'state': 'absent', 'remove': True},
  'become': True}]),
    ("printf 'key=%s\\n' value > /etc/app.env",
     [{'name': 'Write /etc/app.env',
  'ansible.builtin.copy': {'dest': '/etc/app.env',
                           'content': 'key=value\n',
                           'mode': '0644'}}]),
    # a2ensite & co. make or remove the link in sites-enabled / conf-enabled, nothing else
    ('sudo a2ensite blog',
     [{'name': 'Enable the Apache site blog',
       'ansible.builtin.file': {'src': '../sites-available/blog.conf',
                                'dest': '/etc/apache2/sites-enabled/blog.conf', 'state': 'link'},
       'become': True}]),
    ('a2dissite 000-default.conf',
     [{'name': 'Disable the Apache site 000-default',
       'ansible.builtin.file': {'path': '/etc/apache2/sites-enabled/000-default.conf',
                                'state': 'absent'}}]),
    ('sudo a2enconf security',
     [{'name': 'Enable the Apache conf security',
       'ansible.builtin.file': {'src': '../conf-available/security.conf',
                                'dest': '/etc/apache2/conf-enabled/security.conf', 'state': 'link'},
       'become': True}]),
    ('sudo passwd -l bob',
     [{'name': 'Lock the password of bob',
       'ansible.builtin.user': {'name': 'bob', 'password_lock': True}, 'become': True}]),
    ('passwd -u alice',
     [{'name': 'Unlock the password of alice',
       'ansible.builtin.user': {'name': 'alice', 'password_lock': False}}]),
    ('sudo dnf config-manager --add-repo https://download.docker.com/linux/rhel/docker-ce.repo',
     [{'name': 'Add the repository docker-ce.repo',
       'ansible.builtin.get_url': {'url': 'https://download.docker.com/linux/rhel/docker-ce.repo',
                                   'dest': '/etc/yum.repos.d/docker-ce.repo', 'mode': '0644'},
       'become': True}]),
    ('yum-config-manager --add-repo=https://rpm.releases.hashicorp.com/RHEL/hashicorp.repo',
     [{'name': 'Add the repository hashicorp.repo',
       'ansible.builtin.get_url': {'url': 'https://rpm.releases.hashicorp.com/RHEL/hashicorp.repo',
                                   'dest': '/etc/yum.repos.d/hashicorp.repo', 'mode': '0644'}}]),
    # getopt_long takes an unambiguous prefix: --home is --home-dir
    ('useradd --system --home /srv/rails --shell /usr/sbin/nologin rails',
     [{'name': 'Create the user rails',
       'ansible.builtin.user': {'name': 'rails', 'system': True, 'shell': '/usr/sbin/nologin',
                                'home': '/srv/rails', 'state': 'present'}}]),
    # old-style bundled tar options: the value of f is the next word, z comes after it
    ('tar xvfz /tmp/node.tar.gz -C /opt',
     [{'name': 'Unpack node.tar.gz into /opt',
       'ansible.builtin.unarchive': {'src': '/tmp/node.tar.gz', 'dest': '/opt',
                                     'remote_src': True}}]),
    ('sudo cp /tmp/ne/node_exporter /usr/local/bin/',
     [{'name': 'Copy /tmp/ne/node_exporter to /usr/local/bin/node_exporter',
       'ansible.builtin.copy': {'src': '/tmp/ne/node_exporter',
                                'dest': '/usr/local/bin/node_exporter',
                                'remote_src': True, 'mode': 'preserve'},
       'become': True}]),
    ('echo "deploy ALL=(ALL) NOPASSWD:ALL" | sudo tee /etc/sudoers.d/deploy',
     [{'name': 'Write /etc/sudoers.d/deploy',
       'ansible.builtin.copy': {'dest': '/etc/sudoers.d/deploy',
                                'content': 'deploy ALL=(ALL) NOPASSWD:ALL\n', 'mode': '0440',
                                'validate': '/usr/sbin/visudo -cf %s'},
       'become': True}]),
    ("echo '/swapfile none swap sw 0 0' >> /etc/fstab",
     [{'name': 'Add /swapfile to /etc/fstab',
       'ansible.posix.mount': {'src': '/swapfile', 'path': 'none', 'fstype': 'swap', 'opts': 'sw',
                               'dump': '0', 'passno': '0', 'state': 'present'}}]),
    ("echo '0 3 * * * /usr/local/bin/backup.sh --full >> /var/log/b.log 2>&1' | crontab -",
     [{'name': 'Schedule cron job backup.sh',
       'ansible.builtin.cron': {'name': 'cron job backup.sh', 'minute': '0', 'hour': '3',
                                'job': '/usr/local/bin/backup.sh --full >> /var/log/b.log 2>&1'}}]),
    # the comment above a cron.d job names it; other jobs get file and program, unique
    ("cat > /etc/cron.d/jobs <<'EOF'\n# rotate reports\n0 1 * * * root /opt/r.sh\n"
     "5 1 * * * root /opt/s.sh\nEOF",
     [{'name': 'Schedule the rotate reports cron job',
       'ansible.builtin.cron': {'name': 'rotate reports', 'minute': '0', 'hour': '1',
                                'user': 'root', 'job': '/opt/r.sh', 'cron_file': 'jobs'}},
      {'name': 'Schedule the jobs s.sh cron job',
       'ansible.builtin.cron': {'name': 'jobs s.sh', 'minute': '5', 'hour': '1', 'user': 'root',
                                'job': '/opt/s.sh', 'cron_file': 'jobs'}}]),
    # mount -a alone stays a command (it folds into fstab lines written before it)
    ('sudo mount -a',
     [{'name': 'Mount every file system in /etc/fstab',
       'ansible.builtin.command': {'cmd': 'mount -a'}, 'changed_when': True, 'become': True}]),
    ('mysql -e "CREATE DATABASE IF NOT EXISTS wordpress CHARACTER SET utf8mb4; GRANT ALL PRIVILEGES ON wordpress.* TO \'wp\'@\'localhost\' IDENTIFIED BY \'pw\'; FLUSH PRIVILEGES;"',
     [{'community.mysql.mysql_db': {'encoding': 'utf8mb4', 'name': 'wordpress', 'state': 'present'},
       'name': 'Create the MySQL database wordpress'},
      {'community.mysql.mysql_user': {'append_privs': True,
                                      'host': 'localhost',
                                      'name': 'wp',
                                      'password': 'pw',
                                      'priv': 'wordpress.*:ALL',
                                      'state': 'present'},
       'name': 'Grant ALL on wordpress.* to wp',
       'no_log': True}]),
    ('mariadb --user="root" --password="secret" -e "GRANT ALL ON *.* TO root@\'localhost\' IDENTIFIED BY \'secret\' WITH GRANT OPTION;"',
     [{'name': 'Grant ALL,GRANT on *.* to root',
       'community.mysql.mysql_user': {'name': 'root', 'host': 'localhost', 'priv': '*.*:ALL,GRANT', 'append_privs': True,
                                      'state': 'present', 'password': 'secret', 'login_user': 'root',
                                      'login_password': 'secret'},
       'no_log': True}]),
    ('mysql -e "CREATE USER IF NOT EXISTS \'app\'@\'%\' IDENTIFIED BY \'pw\'; '
     'CREATE USER \'bs\'@\'localhost\' IDENTIFIED WITH mysql_native_password BY \'x\'"',
     [{'name': 'Create the MySQL user app',
       'community.mysql.mysql_user': {'name': 'app', 'host': '%', 'state': 'present', 'password': 'pw',
                                      'update_password': 'on_create'},
       'no_log': True},
      {'name': 'Create the MySQL user bs',
       'community.mysql.mysql_user': {'name': 'bs', 'host': 'localhost', 'state': 'present',
                                      'plugin': 'mysql_native_password', 'plugin_auth_string': 'x'},
       'no_log': True}]),
    ('mysql -e "DELETE FROM mysql.user WHERE User=\'\';"',
     [{'name': 'Remove the MySQL user (anonymous) on every host',
       'community.mysql.mysql_user': {'name': '', 'host_all': True, 'state': 'absent'}}]),
    ('sudo -u postgres psql -c "CREATE USER app WITH ENCRYPTED PASSWORD \'pw\'; CREATE DATABASE app OWNER app; GRANT ALL PRIVILEGES ON DATABASE app TO app;"',
     [{'become': True,
       'become_user': 'postgres',
       'community.postgresql.postgresql_user': {'name': 'app', 'password': 'pw', 'state': 'present'},
       'name': 'Create the PostgreSQL user app',
       'no_log': True},
      {'become': True,
       'become_user': 'postgres',
       'community.postgresql.postgresql_db': {'name': 'app', 'owner': 'app', 'state': 'present'},
       'name': 'Create the PostgreSQL database app'},
      {'become': True,
       'become_user': 'postgres',
       'community.postgresql.postgresql_privs': {'database': 'app',
                                                 'privs': 'ALL',
                                                 'roles': 'app',
                                                 'type': 'database'},
       'name': 'Grant all privileges on the database app to app'}]),
    ('sudo -u postgres createdb -O app appdb',
     [{'become': True,
       'become_user': 'postgres',
       'community.postgresql.postgresql_db': {'name': 'appdb', 'owner': 'app', 'state': 'present'},
       'name': 'Create the PostgreSQL database appdb'}]),
    ('sudo -u postgres createuser -s admin',
     [{'become': True,
       'become_user': 'postgres',
       'community.postgresql.postgresql_user': {'name': 'admin',
                                                'role_attr_flags': 'SUPERUSER',
                                                'state': 'present'},
       'name': 'Create the PostgreSQL user admin'}]),
    ('debconf-set-selections <<< "postfix postfix/main_mailer_type string \'Internet Site\'"',
     [{'ansible.builtin.debconf': {'name': 'postfix',
                                   'question': 'postfix/main_mailer_type',
                                   'value': "'Internet Site'",
                                   'vtype': 'string'},
       'name': 'Preseed postfix/main_mailer_type'}]),
    ('su - deploy -c "mkdir -p /home/deploy/app"',
     [{'ansible.builtin.file': {'path': '/home/deploy/app', 'state': 'directory', 'mode': '0755'},
       'become': True,
       'become_user': 'deploy',
       'name': 'Create the directory /home/deploy/app'}]),
    ('sudo apt-get purge -y apache2*',
     [{'ansible.builtin.apt': {'name': 'apache2*', 'purge': True, 'state': 'absent'},
       'become': True,
       'name': 'Remove apache2*'}]),
    ('/usr/bin/mysqladmin -u root create wordpress',
     [{'community.mysql.mysql_db': {'login_user': 'root', 'name': 'wordpress', 'state': 'present'},
       'name': 'Create the MySQL database wordpress'}]),
    ('sudo sed -i "s/;bind_address =.*/bind_address = 0.0.0.0/" /opt/couchdb/etc/local.ini',
     [{'ansible.builtin.replace': {'path': '/opt/couchdb/etc/local.ini',
                              'regexp': ';bind_address =.*',
                              'replace': 'bind_address = 0.0.0.0'},
  'become': True,
  'name': 'Replace ;bind_address =.* in /opt/couchdb/etc/local.ini'}]),
    ("sed -i 's/listen = 127.0.0.1:9000/listen = \\/run\\/php.sock/' /etc/php/fpm/pool.d/www.conf",
     [{'ansible.builtin.replace': {'path': '/etc/php/fpm/pool.d/www.conf',
                              'regexp': '^(.*?)(listen = 127.0.0.1:9000)',
                              'replace': '\\g<1>listen = /run/php.sock'},
  'name': 'Replace listen = 127.0.0.1:9000 in /etc/php/fpm/pool.d/www.conf'}]),
    ('sed -i "0,/put your unique phrase here/s//SALT1/" /var/www/wp-config.php',
     [{'ansible.builtin.replace': {'path': '/var/www/wp-config.php',
                              'regexp': '\\A([\\s\\S]*?)(put your unique phrase here)',
                              'replace': '\\g<1>SALT1'},
  'name': 'Replace the first put your unique phrase here in /var/www/wp-config.php'}]),
    ("sed -e '/swap/ s/^#*/#/' -i /etc/fstab",
     [{'ansible.builtin.replace': {'path': '/etc/fstab', 'regexp': '^(?=.*?(?:swap))#*', 'replace': '#'},
  'name': 'Replace ^#* on lines matching swap in /etc/fstab'}]),
    ("sed -i '/^#PermitRoot/c PermitRootLogin no' /etc/ssh/sshd_config",
     [{'ansible.builtin.replace': {'path': '/etc/ssh/sshd_config',
                              'regexp': '^(?=.*?(?:^#PermitRoot)).*$',
                              'replace': 'PermitRootLogin no'},
  'name': 'Change the lines matching ^#PermitRoot in /etc/ssh/sshd_config'}]),
    ("sed -i '/^\\[main\\]/a dns=none' /etc/NetworkManager/NetworkManager.conf",
     [{'ansible.builtin.replace': {'path': '/etc/NetworkManager/NetworkManager.conf',
                              'regexp': '^(?=.*?(?:^\\[main\\])).*$',
                              'replace': '\\g<0>\ndns=none'},
  'name': 'Add a line after lines matching ^\\[main\\] in /etc/NetworkManager/NetworkManager.conf'}]),
    ("sed -i.bak 's/^user = apache/user = nginx/; s/^group = apache/group = nginx/' /etc/php-fpm.d/www.conf",
     [{'ansible.builtin.copy': {'src': '/etc/php-fpm.d/www.conf', 'dest': '/etc/php-fpm.d/www.conf.bak',
                           'remote_src': True, 'mode': 'preserve'},
       'name': 'Keep /etc/php-fpm.d/www.conf as /etc/php-fpm.d/www.conf.bak'},
      {'ansible.builtin.replace': {'path': '/etc/php-fpm.d/www.conf',
                              'regexp': '^user = apache',
                              'replace': 'user = nginx'},
  'name': 'Replace ^user = apache in /etc/php-fpm.d/www.conf'},
 {'ansible.builtin.replace': {'path': '/etc/php-fpm.d/www.conf',
                              'regexp': '^group = apache',
                              'replace': 'group = nginx'},
  'name': 'Replace ^group = apache in /etc/php-fpm.d/www.conf'}]),
    ("sed -i 's/[[:space:]]*$//' /etc/motd",
     [{'ansible.builtin.replace': {'path': '/etc/motd', 'regexp': '[ \\t\\r\\f\\v]*$', 'replace': ''},
  'name': 'Replace [[:space:]]*$ in /etc/motd'}]),
    ("sed -i 's/^/# /' /etc/legacy.conf",
     [{'ansible.builtin.replace': {'path': '/etc/legacy.conf', 'regexp': '^(?!\\Z)', 'replace': '# '},
  'name': 'Replace ^ in /etc/legacy.conf'}]),
    ('sudo apt-mark hold docker-ce docker-ce-cli',
     [{'ansible.builtin.dpkg_selections': {'name': '{{ item }}', 'selection': 'hold'},
  'become': True,
  'loop': ['docker-ce', 'docker-ce-cli'],
  'name': 'Hold docker-ce and docker-ce-cli'}]),
    ('apt-mark unhold kubelet',
     [{'ansible.builtin.dpkg_selections': {'name': 'kubelet', 'selection': 'install'},
  'name': 'Release the hold on kubelet'}]),
    ('echo "nginx hold" | sudo dpkg --set-selections',
     [{'ansible.builtin.dpkg_selections': {'name': 'nginx', 'selection': 'hold'},
  'become': True,
  'name': 'Hold nginx'}]),
    ('sudo apt-key add /srv/provision/apt-keys/mariadb.key',
     [{'ansible.builtin.apt_key': {'file': '/srv/provision/apt-keys/mariadb.key', 'state': 'present'},
  'become': True,
  'name': 'Add the apt signing key in /srv/provision/apt-keys/mariadb.key'}]),
    ('sudo apt-key adv --keyserver keyserver.ubuntu.com --recv-keys C300EE8C',
     [{'ansible.builtin.apt_key': {'id': 'C300EE8C',
                              'keyserver': 'keyserver.ubuntu.com',
                              'state': 'present'},
  'become': True,
  'name': 'Add the apt signing key C300EE8C from keyserver.ubuntu.com'}]),
    ('gem install bundler -v 2.4.22 --no-document',
     [{'community.general.gem': {'include_doc': False,
                            'name': 'bundler',
                            'state': 'present',
                            'user_install': False,
                            'version': '2.4.22'},
  'name': 'Install the bundler gem'}]),
    ("yum -y '--enablerepo=*' clean all",
     [{'ansible.builtin.command': {'cmd': 'yum clean all --enablerepo=*'},
  'changed_when': True,
  'name': 'Clean the yum caches'}]),
    ('sysctl vm.swappiness=10',
     [{'ansible.posix.sysctl': {'name': 'vm.swappiness',
                           'state': 'present',
                           'sysctl_set': True,
                           'value': '10'},
  'name': 'Set the kernel parameter vm.swappiness'}]),
    ('ufw allow in on lo',
     [{'community.general.ufw': {'direction': 'in', 'interface': 'lo', 'rule': 'allow'},
  'name': 'Allow traffic in on lo in ufw'}]),
    ('ufw allow log from 10.0.0.0/8 to any port 22 proto tcp',
     [{'community.general.ufw': {'from_ip': '10.0.0.0/8',
                            'log': True,
                            'proto': 'tcp',
                            'rule': 'allow',
                            'to_port': '22'},
  'name': 'Allow 22/tcp from 10.0.0.0/8 in ufw'}]),
    ('update-alternatives --install /usr/bin/java java /opt/jdk/bin/java 1081',
     [{'community.general.alternatives': {'link': '/usr/bin/java',
                                     'name': 'java',
                                     'path': '/opt/jdk/bin/java',
                                     'priority': 1081,
                                     'state': 'present'},
  'name': 'Install /opt/jdk/bin/java as an alternative for java'}]),
    ('update-alternatives --set java /opt/jdk/bin/java',
     [{'community.general.alternatives': {'name': 'java',
                                     'path': '/opt/jdk/bin/java',
                                     'state': 'selected'},
  'name': 'Select /opt/jdk/bin/java for java'}]),
    ('supervisorctl start pythonapp',
     [{'community.general.supervisorctl': {'name': 'pythonapp', 'state': 'started'},
  'name': 'Start the pythonapp supervisor program'}]),
    ('gpasswd -a vagrant docker',
     [{'ansible.builtin.user': {'append': True, 'groups': ['docker'], 'name': 'vagrant'},
  'name': 'Add vagrant to the docker group'}]),
    ('cd /srv/valkey && make -j 2 install PREFIX=/usr/local',
     [{'community.general.make': {'chdir': '/srv/valkey',
                             'jobs': 2,
                             'params': {'PREFIX': '/usr/local'},
                             'target': 'install'},
  'name': 'Run make install in /srv/valkey'}]),
    ('docker pull postgres:15',
     [{'community.docker.docker_image': {'force_source': True, 'name': 'postgres:15', 'source': 'pull'},
  'name': 'Pull the postgres:15 image'}]),
    ('cd /var/www/bookstack && php /usr/local/bin/composer install --no-dev --no-plugins',
     [{'community.general.composer': {'command': 'install',
                                 'composer_executable': '/usr/local/bin/composer',
                                 'no_dev': True,
                                 'no_plugins': True,
                                 'optimize_autoloader': False,
                                 'working_dir': '/var/www/bookstack'},
  'name': 'Install the PHP dependencies of /var/www/bookstack with composer'}]),
    ('tar -C /usr/local -xzf /tmp/golang.tar.gz go',
     [{'ansible.builtin.unarchive': {'dest': '/usr/local',
                                'include': ['go'],
                                'remote_src': True,
                                'src': '/tmp/golang.tar.gz'},
  'name': 'Unpack golang.tar.gz into /usr/local'}]),
    ('cd /srv/app && composer install --no-interaction --optimize-autoloader',
     [{'community.general.composer': {'command': 'install',
                                 'no_dev': False,
                                 'optimize_autoloader': True,
                                 'working_dir': '/srv/app'},
  'name': 'Install the PHP dependencies of /srv/app with composer'}]),
    ("find /var/log -type f -name '*.log' -delete",
     [{'ansible.builtin.find': {'file_type': 'file',
                           'hidden': True,
                           'paths': '/var/log',
                           'patterns': '*.log',
                           'recurse': True},
  'name': 'Find the files under /var/log named *.log',
  'register': 'found_var_log_log'},
 {'ansible.builtin.file': {'path': '{{ item }}', 'state': 'absent'},
  'loop': "{{ found_var_log_log.files | map(attribute='path') | list }}",
  'name': 'Remove the files under /var/log named *.log'}]),
    ("sudo find /var/log/ -name '*.gz' -exec rm -f {} \\;",
     [{'ansible.builtin.find': {'file_type': 'any',
                           'hidden': True,
                           'paths': '/var/log',
                           'patterns': '*.gz',
                           'recurse': True},
  'become': True,
  'name': 'Find the entries under /var/log named *.gz',
  'register': 'found_var_log_gz'},
 {'ansible.builtin.file': {'path': '{{ item }}', 'state': 'absent'},
  'become': True,
  'loop': "{{ found_var_log_gz.files | rejectattr('isdir') | map(attribute='path') | list }}",
  'name': 'Remove the entries under /var/log named *.gz'}]),
    ('sudo dnf config-manager --set-enabled crb',
     [{'become': True,
  'community.general.dnf_config_manager': {'name': ['crb'], 'state': 'enabled'},
  'name': 'Enable the crb repository'}]),
    ('dnf -y check-update',
     [{'ansible.builtin.dnf': {'update_cache': True}, 'name': 'Update the package cache'}]),
    ('sudo passwd -d deploy',
     [{'ansible.builtin.user': {'name': 'deploy', 'password': ''},
  'become': True,
  'name': 'Remove the password of deploy'}]),
    ('cd /var/www && git clone https://github.com/BookStackApp/BookStack.git --branch release --single-branch bookstack',
     [{'ansible.builtin.git': {'dest': '/var/www/bookstack',
                          'recursive': False,
                          'repo': 'https://github.com/BookStackApp/BookStack.git',
                          'single_branch': True,
                          'update': False,
                          'version': 'release'},
  'name': 'Clone https://github.com/BookStackApp/BookStack.git into /var/www/bookstack'}]),
    ('cat > /etc/yum.repos.d/epel.repo << EOM\n[epel]\nname=epel\nbaseurl=http://download.fedoraproject.org/pub/epel/beta/7/\\$basearch\nenabled=1\ngpgcheck=0\nEOM',
     [{'ansible.builtin.yum_repository': {'baseurl': 'http://download.fedoraproject.org/pub/epel/beta/7/$basearch',
                                     'description': 'epel',
                                     'enabled': True,
                                     'file': 'epel',
                                     'gpgcheck': False,
                                     'name': 'epel',
                                     'state': 'present'},
  'name': 'Add the epel yum repository'}]),
    ('echo "deb [signed-by=/etc/apt/keyrings/couchdb.gpg] https://apache.jfrog.io/artifactory/couchdb-deb/ jammy main" | sudo tee /etc/apt/sources.list.d/couchdb.list',
     [{'ansible.builtin.apt_repository': {'filename': 'couchdb',
                                     'repo': 'deb [signed-by=/etc/apt/keyrings/couchdb.gpg] '
                                             'https://apache.jfrog.io/artifactory/couchdb-deb/ '
                                             'jammy main',
                                     'state': 'present',
                                     'update_cache': False},
  'become': True,
  'name': 'Add the apt repository https://apache.jfrog.io/artifactory/couchdb-deb/ jammy'}]),
    ('mysql -u "root" -p"root" < "/srv/database/init.sql"',
     [{'name': 'Import /srv/database/init.sql into MySQL',
       'community.mysql.mysql_db': {'name': 'all', 'state': 'import', 'target': '/srv/database/init.sql',
                                    'login_user': 'root', 'login_password': 'root'}}]),
    ("sql=$( cat <<-SQL\n\tALTER USER 'root'@'localhost' IDENTIFIED WITH mysql_native_password USING PASSWORD('root');\n"
     "\tFLUSH PRIVILEGES;\nSQL\n)\nmysql -u root -proot -e \"${sql}\"",
     [{'name': 'Create the MySQL user root',
       'community.mysql.mysql_user': {'name': 'root', 'host': 'localhost', 'state': 'present',
                                      'plugin': 'mysql_native_password', 'plugin_auth_string': 'root',
                                      'login_user': 'root', 'login_password': 'root'},
       'no_log': True}]),
    ('pkg install -y parallels-tools',
     [{'name': 'Install parallels-tools',
       'community.general.pkgng': {'name': 'parallels-tools', 'state': 'present'}}]),
    ('pkg delete -y nano vim',
     [{'name': 'Remove nano and vim',
       'community.general.pkgng': {'name': ['nano', 'vim'], 'state': 'absent'}}]),
    ('gem install puppet:7.22.0 xmlrpc',
     [{'name': 'Install the puppet gem',
       'community.general.gem': {'name': 'puppet', 'state': 'present', 'user_install': False, 'version': '7.22.0'}},
      {'name': 'Install the xmlrpc gem',
       'community.general.gem': {'name': 'xmlrpc', 'state': 'present', 'user_install': False}}]),
    ('systemctl link -f /lib/systemd/system/munin.service',
     [{'name': 'Link the unit munin.service into /etc/systemd/system',
       'ansible.builtin.file': {'src': '/lib/systemd/system/munin.service',
                                'dest': '/etc/systemd/system/munin.service', 'state': 'link', 'force': True}},
      {'name': 'Reload the systemd configuration', 'ansible.builtin.systemd_service': {'daemon_reload': True}}]),
    ('sudo gpasswd -a "$(whoami)" docker',
     [{'name': 'Add ansible_facts.user_id to the docker group',
       'ansible.builtin.user': {'name': '{{ ansible_facts.user_id }}', 'groups': ['docker'], 'append': True},
       'become': True}]),
    ("cat << EOF | su - postgres -c psql\n-- Create the user:\nCREATE USER app WITH PASSWORD 'pw';\n"
     "CREATE DATABASE app WITH OWNER=app\n  LC_COLLATE='en_US.utf8'\n  LC_CTYPE='en_US.utf8'\n"
     "  ENCODING='UTF8'\n  TEMPLATE=template0;\nEOF",
     [{'name': 'Create the PostgreSQL user app',
       'community.postgresql.postgresql_user': {'name': 'app', 'state': 'present', 'password': 'pw'},
       'become': True, 'become_user': 'postgres', 'no_log': True},
      {'name': 'Create the PostgreSQL database app',
       'community.postgresql.postgresql_db': {'name': 'app', 'state': 'present', 'owner': 'app',
                                              'lc_collate': 'en_US.utf8', 'lc_ctype': 'en_US.utf8',
                                              'encoding': 'UTF8', 'template': 'template0'},
       'become': True, 'become_user': 'postgres'}]),
]


# covered lines whose task needs a person's decision say so, without being uncovered
_MYSQL = "the community.mysql modules need PyMySQL on the host (apt install python3-pymysql)"
_PG = "the community.postgresql modules need psycopg2 on the host (apt install python3-psycopg2)"
_APT_KEY = ("apt-key is deprecated on current Debian and Ubuntu; prefer a key file in /etc/apt/keyrings "
            "and signed-by in the repository line")
NOTES = {
    'apt-get install -y --allow-remove-essential --fix-missing --fix-broken nodejs': [
        "line 1: apt-get --allow-remove-essential --fix-missing has no switch in the apt module: where apt needs it "
        "(an essential package to remove, a package that cannot be fetched) the task fails where the script went on"],
    'ulimit -n 4096\numask u=rwx,g=,o=': [
        "line 1: `ulimit -n 4096` sets the resource limits of the shell running the script, which its later commands "
        "inherit and no task does (each runs in a process of its own): no task; review what later tasks need "
        "(a service's limits belong in its unit or /etc/security/limits.d)",
        "line 2: `umask u=rwx,g=,o=` sets the file-creation mask of the shell running the script, which its later commands "
        "inherit and no task does (each runs in a process of its own): no task; review what later tasks create: "
        "their modes assume the usual umask 022"],
    'mysql -u "root" -p"root" < "/srv/database/init.sql"': [f"line 1: {_MYSQL}"],
    "sql=$( cat <<-SQL\n\tALTER USER 'root'@'localhost' IDENTIFIED WITH mysql_native_password USING PASSWORD('root');\n"
    "\tFLUSH PRIVILEGES;\nSQL\n)\nmysql -u root -proot -e \"${sql}\"": [f"line 6: {_MYSQL}"],
    "cat << EOF | su - postgres -c psql\n-- Create the user:\nCREATE USER app WITH PASSWORD 'pw';\n"
    "CREATE DATABASE app WITH OWNER=app\n  LC_COLLATE='en_US.utf8'\n  LC_CTYPE='en_US.utf8'\n"
    "  ENCODING='UTF8'\n  TEMPLATE=template0;\nEOF": [f"line 1-9: {_PG}"],
    '/usr/bin/mysqladmin -u root create wordpress': [f"line 1: {_MYSQL}"],
    'mariadb --user="root" --password="secret" -e "GRANT ALL ON *.* TO root@\'localhost\' IDENTIFIED BY \'secret\' WITH GRANT OPTION;"': [f"line 1: {_MYSQL}"],
    'mysql -e "CREATE USER IF NOT EXISTS \'app\'@\'%\' IDENTIFIED BY \'pw\'; CREATE USER \'bs\'@\'localhost\' IDENTIFIED WITH mysql_native_password BY \'x\'"': [f"line 1: {_MYSQL}"],
    'mysql -e "DELETE FROM mysql.user WHERE User=\'\';"': [f"line 1: {_MYSQL}"],
    'mysql -e "CREATE DATABASE IF NOT EXISTS wordpress CHARACTER SET utf8mb4; GRANT ALL PRIVILEGES ON wordpress.* TO \'wp\'@\'localhost\' IDENTIFIED BY \'pw\'; FLUSH PRIVILEGES;"': [f"line 1: {_MYSQL}"],
    'sudo -u postgres psql -c "CREATE USER app WITH ENCRYPTED PASSWORD \'pw\'; CREATE DATABASE app OWNER app; GRANT ALL PRIVILEGES ON DATABASE app TO app;"': [f"line 1: {_PG}"],
    'sudo -u postgres createdb -O app appdb': [f"line 1: {_PG}"],
    'sudo -u postgres createuser -s admin': [f"line 1: {_PG}"],
    'git clone https://github.com/example/tool.git /opt/tool': [
        "line 1: `git clone` of https://github.com/example/tool.git follows its default branch "
        "(version: HEAD); pin version to a tag or commit"],
    'pip3 install --user -U requests flask==3.0.0': [
        "line 1: `pip install --upgrade` becomes state: latest, which upgrades on every run; "
        "pin versions if runs must repeat"],
    'sudo apt-key add /srv/provision/apt-keys/mariadb.key': [f"line 1: {_APT_KEY}"],
    'sudo apt-key adv --keyserver keyserver.ubuntu.com --recv-keys C300EE8C': [f"line 1: {_APT_KEY}"],
    'python3 -m pip install --upgrade pip': [
        "line 1: `pip install --upgrade` becomes state: latest, which upgrades on every run; "
        "pin versions if runs must repeat"],
}


@pytest.mark.parametrize(("script", "expected"), CASES, ids=[c[0].split("\n")[0][:50] for c in CASES])
def test_rule(script: str, expected: list[dict[str, Any]]) -> None:
    conversion = convert_script(script + "\n")
    assert conversion.tasks == expected
    assert conversion.warnings == NOTES.get(script, [])
    assert conversion.uncovered == []


@pytest.mark.parametrize("script", [
    "#!/bin/bash\nset -euo pipefail\n", "echo 'Installing...'\n", "exit 0\n", "true\n",
    "sudo systemctl status nginx\n", "sudo sysctl -p\n", "sudo firewall-cmd --reload\n",
    "cd /opt\n", "export A=1\nB=2\n",
])
def test_lines_that_need_no_task(script: str) -> None:
    conversion = convert_script(script)
    assert conversion.tasks == [] and conversion.warnings == [] and conversion.uncovered == []


@pytest.mark.parametrize("script", [
    "sudo -u postgres psql <<EOF\n\\c app\nCREATE USER a;\nEOF\n",  # a psql meta-command
    "psql -v x=1 <<EOF\nCREATE USER a;\nEOF\n",  # a variable the SQL may read
    "cat <<EOF | su - postgres -c 'psql; touch /tmp/done'\nCREATE USER a;\nEOF\n",  # the pipe feeds a script
])
def test_sql_read_from_a_heredoc_that_does_not_map_stays_whole(script: str) -> None:
    conversion = convert_script(script)
    assert len(conversion.tasks) == 1 and "ansible.builtin.shell" in conversion.tasks[0]
    assert "CREATE USER a;" in conversion.tasks[0]["ansible.builtin.shell"]["cmd"]
    assert conversion.warnings[0].startswith("line 1-")


def test_every_rule_has_a_case() -> None:
    from playbook.rules import registered

    used = {s.rule for script, _ in CASES for s in convert_script(script + "\n").sources}
    no_task = {"shell_builtin", "exit_", "source", "shell_limits"}  # test_lines_that_need_no_task, test_convert's sourcing test
    every = {name for names in registered().values() for name in names}
    assert every - used - no_task == set()


@pytest.mark.parametrize(("script", "why"), [
    ("apt-get install -f\n", "apt-get -f needs apt's resolver"),
    ("shutdown -h now\n", "a halt is not a reboot"),
    ("shutdown -r +5 'going down'\n", "a delay and a message"),
    ("apt-get install -y --force-yes nodejs\n", "also lets unauthenticated packages in"),
    ("php -r 'copy(\"https://h/sig\", \"php://stdout\");'\n", "a copy to the output, not a file"),
    ("php -r \"copy('https://h/x', 'x'); unlink('y');\"\n", "more than the copy"),
    ("fallocate -l 2G -o 4096 /swapfile\n", "an offset: not a file of a size"),
    ("mkswap -p 4096 /swapfile\n", "a page size the module has no switch for"),
    ("truncate -s +1M /var/log/x\n", "a relative size"),
    ('sudo -u postgres psql -c "VACUUM FULL"\n', "no module says VACUUM"),
    ("CREATE='CREATE DATABASE d CONNECTION LIMIT 5'; psql -c \"$CREATE\"\n", "an option the module does not say"),
    ("gem install puppet:'>=7'\n", "a requirement, not one version"),
    ("systemctl link unit.service\n", "a relative unit file"),
    ("update-rc.d -f apparmor remove\n", "only the SysV rc links go: a systemd unit stays enabled (service enabled: false would disable it)"),
    ("mysql -u root --force < /tmp/x.sql\n", "--force goes on past errors; the import stops"),
    ('mysql -e "source /tmp/dump.sql"\n', "the client's own command"),
    ('mysql -e "USE app; DELETE FROM t"\n', "the client's own command"),
    ("sudo chown deploy: /srv\n", "user: means the login group"),
    ("cp -r /a /b\n", "cp -r depends on whether /b exists"),
    ("sed -i 's/a/b/2' /f\n", "the second match of a line"),
    ("sed -i '/x/I s/a/b/g' /f\n", "every match, on some lines only"),
    ("sed -i 's/ *$/|/' /f\n", "an empty match after a match: Python takes both"),
    ("sed -i '3d' /f\n", "line numbers"),
    ("sed -n -i '/x/p' /f\n", "-n keeps only printed lines"),
    ("find /tmp/build -mindepth 1 -delete\n", "-mindepth"),
    ("git clone --mirror https://github.com/example/tool.git /opt/tool\n", "a mirror is not the module's clone"),
    ("find /srv -name '*.tmp' -delete\n", "-delete without -type f also removes empty directories"),
    ("mkdir -p $UNKNOWN/x\n", "unknown variable"),
])
def test_forms_rules_decline_fall_back(script: str, why: str) -> None:
    conversion = convert_script(script)
    assert len(conversion.tasks) == 1
    task = conversion.tasks[0]
    assert "ansible.builtin.command" in task or "ansible.builtin.shell" in task, why
    assert conversion.warnings and conversion.warnings[0].startswith("line 1:")


# --- sed: the replace tasks against GNU sed itself ------------------------------------------

_SED_SAMPLE = """# comment
bind-address = 127.0.0.1 ; bind-address = 127.0.0.1
;bind_address = 1.2.3.4
GRUB_TIMEOUT=5
UUID=abc swap swap defaults 0 0
#UUID=def swap swap
PasswordAuthentication yes
#PasswordAuthentication   yes
foobar foobar
aaa a
put your unique phrase here
put your unique phrase here x put your unique phrase here
end
  end
[main]
key=value
tab\tsep x\ty
trailing  \t

"""
_SED_SCRIPTS = [
    ["-i", "s/bind-address = 127.0.0.1/bind-address = 0.0.0.0/"],
    ["-i", "s/bind-address = 127.0.0.1/bind-address = 0.0.0.0/g"],
    ["-i", "s/;bind_address =.*/bind_address = 0.0.0.0/"],
    ["-i", "-e", "s/^GRUB_TIMEOUT=[0-9]\\+$/GRUB_TIMEOUT=1/"],
    ["-e", "/^.*swap.*/d", "-i"],
    ["-i", "0,/put your unique phrase here/s/put your unique phrase here/SALT/"],
    ["-i", "0,/put your unique phrase here/s//SALT/"],
    ["-e", "/swap/ s/^#*/#/", "-i"],
    ["-re", "s/^(\\#?)(PasswordAuthentication)([[:space:]]+)yes/\\2\\3no/", "-i"],
    ["-i", "s/a/b/; s/o/0/"],
    ["-i", "/^end$/i \\\n\\ \\ # production\\\n\\ \\ config.force_ssl = false"],
    ["-i", "/^#Pass/c PasswordAuthentication no"],
    ["-i", "s/\\(foo\\)\\(bar\\)/\\2\\1 & x/"],
    ["-i", "/^\\[main\\]/a dns=none"],
    ["-i", "/swap/!s/UUID/uuid/"],
    ["-i", "/swap/s/a/A/"],
    ["-i", "s/[[:space:]]*$//"],
    ["-i", "s/\\s/_/"],
    ["-i", "s/[^a-z]/_/g"],
    ["-i", "s/[]a]/Z/g"],
    ["-E", "-i", "s/(a|o)+/<&>/"],
    ["-i", "s/a\\|o/Q/"],
    ["-i", "s/^/# /"],
    ["-i", "s/$/ ;/"],
    ["-i", "s|/|\\\\|g"],
    ["-i", "s/x/a\\nb/"],
    ["-i", "/key/ s/^\\(key\\)=\\(.*\\)/\\2=\\1/"],
    ["-i", "/^#/d; s/=/ := /"],
    ["-i", "/\\(a\\)\\1/ s/\\(a\\)/[\\1]/"],
    ["-i", "s/*/star/"],
    ["-i", "s/\\<foo/F/"],
    ["-i", "/^end$/i \\\n\\\n  # indented\\\n  config.x = 1"],
    ["-i", "/^end$/a   one\\\n   two"],
    ["-i", "3c line three"],
    ["-i", "1c first"],
    ["-i", "18c line 18"],
    ["-i", "19c last line"],  # the sample's last line (none in one variant)
    ["-i", "20c past the end"],
    ["-i", "91c execute([command(:dnf), 'install', '-y', args]) \\\\1 & done"],
]


@pytest.mark.skipif(shutil.which("sed") is None or "GNU" not in subprocess.run(
    ["sed", "--version"], capture_output=True, text=True).stdout, reason="needs GNU sed")
@pytest.mark.parametrize("args", _SED_SCRIPTS, ids=[" ".join(a)[:40] for a in _SED_SCRIPTS])
@pytest.mark.parametrize("sample", [_SED_SAMPLE, _SED_SAMPLE.rstrip("\n"), ""], ids=["text", "no-final-newline", "empty"])
def test_sed_tasks_edit_as_sed_does(tmp_path: Path, args: list[str], sample: str) -> None:
    """Each task's regex run as the replace module runs it (MULTILINE over the whole file),
    lineinfile's absent as a line filter: the file ends as GNU sed leaves it."""
    target = tmp_path / "f"
    target.write_text(sample)
    subprocess.run(["sed", *args, str(target)], check=True)
    found = apply_rules(Invocation(argv=("sed", *args, "/f")))
    assert found is not None, "the rule declined"
    text = sample
    for task in found[1]:
        if task.module == "ansible.builtin.replace":
            text = re.compile(task.args["regexp"], re.MULTILINE).sub(task.args["replace"], text)
        else:
            assert task.module == "ansible.builtin.lineinfile" and task.args["state"] == "absent"
            text = "".join(line for line in text.splitlines(True) if not re.search(task.args["regexp"], line))
    assert text == target.read_text()


def test_rm_of_a_glob_finds_the_matches_and_removes_each() -> None:
    found = apply_rules(Invocation(argv=("rm", "-f", "/etc/yum.repos.d/nodesource*.repo", "/etc/x.conf"),
                                   globbed=frozenset({2})))
    assert found is not None
    find, remove, literal = (t.as_dict() for t in found[1])
    assert find == {"name": "Find the entries of /etc/yum.repos.d matching nodesource*.repo",
                    "ansible.builtin.find": {"paths": "/etc/yum.repos.d", "patterns": "nodesource*.repo",
                                             "file_type": "any"},
                    "register": "found_etc_yum_repos_d_nodesource_repo"}
    # rm without -r leaves directories (it refuses them); the shell's * skips dot files, as find does
    assert remove["loop"] == ("{{ found_etc_yum_repos_d_nodesource_repo.files | rejectattr('isdir') "
                              "| map(attribute='path') | list }}")
    assert remove["ansible.builtin.file"] == {"path": "{{ item }}", "state": "absent"}
    assert literal["ansible.builtin.file"] == {"path": "/etc/x.conf", "state": "absent"}
    recursive = apply_rules(Invocation(argv=("rm", "-rf", "/tmp/*"), globbed=frozenset({2})))
    assert recursive is not None and "rejectattr" not in recursive[1][1].extra["loop"]
    # a quoted '*' is a name, and a pattern in a directory or the root's entries are not modelled
    quoted = apply_rules(Invocation(argv=("rm", "-f", "/tmp/*")))
    assert quoted is not None and quoted[1][0].args == {"path": "/tmp/*", "state": "absent"}
    assert apply_rules(Invocation(argv=("rm", "-rf", "/home/*/cache"), globbed=frozenset({2}))) is None
    assert apply_rules(Invocation(argv=("rm", "-rf", "/*"), globbed=frozenset({2}))) is None
    assert apply_rules(Invocation(argv=("rm", "-rf", "/tmp/.*"), globbed=frozenset({2}))) is None


def test_sed_reads_a_value_known_on_the_host_only_in_a_regex_as_sed_would() -> None:
    # a basic regex reads `+?|(){}` as plain characters: each becomes a class for Python's re
    # (tests/playbook/test_sed_host_values.py runs both on the same file)
    runtime = apply_rules(Invocation(argv=("sed", "-i", "/^.*{{ shell_host }}.*/d", "/etc/hosts")))
    assert runtime is not None
    regexp = runtime[1][0].args["regexp"]
    assert regexp.startswith("^.*{{ shell_host | replace('+', '[+]') | replace('?', '[?]')") and "\\" not in regexp
    extended = apply_rules(Invocation(argv=("sed", "-E", "-i", "/^.*{{ shell_host }}.*/d", "/etc/hosts")))
    assert extended is not None and extended[1][0].args["regexp"] == "^.*{{ shell_host }}.*"  # ERE reads them as re does
    script_text = apply_rules(Invocation(argv=("sed", "-i", "s/{{RUBY_VERSION}}/3.3/g", "/opt/app/Dockerfile")))
    assert script_text is not None and script_text[1][0].args["regexp"] == "\\{\\{RUBY_VERSION\\}\\}"


@pytest.mark.parametrize(("script", "replace"), [
    ("sed -ie 's#HOSTNAME=.*$#HOSTNAME='`hostname -f`'#' /etc/sysconfig/network",
     "HOSTNAME={{ ansible_facts.fqdn }}"),
    ('sed -i "s/^arch=.*/arch=$(uname -m)/" /etc/app.conf', "arch={{ ansible_facts.architecture }}"),
])
def test_sed_takes_a_gathered_word_fact_in_its_replacement(script: str, replace: str) -> None:
    # a host name, an architecture: letters, digits and ._+- mean nothing in a replacement
    tasks = convert_script(script + "\n").tasks
    if "-ie" in script:  # `-ie` is -i with the suffix `e`: sed keeps the original as `networke`
        backup = tasks.pop(0)["ansible.builtin.copy"]
        assert backup["dest"] == "/etc/sysconfig/networke" and backup["mode"] == "preserve"
    assert len(tasks) == 1 and tasks[0]["ansible.builtin.replace"]["replace"] == replace


@pytest.mark.parametrize("script", [
    'sed -i "s.x.$(uname -m)." /etc/app.conf',  # a delimiter the value may hold
    'sed -i "s/x/{{y}}$(hostname -f)/" /etc/app.conf',  # raw text next to it: not templated
    'sed -i "s/x/$(date +%s)/" /etc/app.conf',  # not a gathered fact
])
def test_sed_declines_a_fact_where_its_characters_could_mean_something(script: str) -> None:
    assert "ansible.builtin.replace" not in convert_script(script + "\n").tasks[-1]


def test_sed_on_a_glob_edits_each_file_the_pattern_finds() -> None:
    argv = ("sed", "-i", "-e", "s/^\\(mirrorlist\\)/#\\1/", "-e", "s,^#baseurl=http://a,baseurl=https://b,",
            "/etc/yum.repos.d/CentOS-Linux-*")
    found = apply_rules(Invocation(argv=argv, globbed=frozenset({6})))
    assert found is not None
    loop = "{{ found_etc_yum_repos_d_centos_linux.files | map(attribute='path') | list }}"
    assert [t.as_dict() for t in found[1]] == [
        {"name": "Find the files /etc/yum.repos.d/CentOS-Linux-*", "ansible.builtin.find":
            {"paths": "/etc/yum.repos.d", "patterns": "CentOS-Linux-*", "file_type": "file"},
         "register": "found_etc_yum_repos_d_centos_linux"},
        {"name": "Replace ^\\(mirrorlist\\) in the files /etc/yum.repos.d/CentOS-Linux-*", "ansible.builtin.replace":
            {"path": "{{ item }}", "regexp": "^(mirrorlist)", "replace": "#\\g<1>"}, "loop": loop},
        {"name": "Replace ^#baseurl=http://a in the files /etc/yum.repos.d/CentOS-Linux-*", "ansible.builtin.replace":
            {"path": "{{ item }}", "regexp": "^#baseurl=http://a", "replace": "baseurl=https://b"}, "loop": loop},
    ]
    # a pattern in a directory name, or dot files: the shell's glob is not find's
    for path in ("/etc/*/x.repo", "/etc/.hidden*"):
        assert apply_rules(Invocation(argv=("sed", "-i", "s/a/b/", path), globbed=frozenset({3}))) is None


def test_a_download_piped_into_tar_is_unarchive_of_the_url() -> None:
    from playbook.rules.network import unpack_download

    url = "https://nodejs.org/dist/v22.14.0/node-v22.14.0-linux-x64.tar.xz"
    tasks = unpack_download(url, Invocation(argv=("tar", "xvfJ", "-", "-C", "/opt/nodejs", "--strip-components=1")))
    assert tasks is not None and [t.as_dict() for t in tasks] == [
        {"name": "Unpack node-v22.14.0-linux-x64.tar.xz into /opt/nodejs", "ansible.builtin.unarchive":
            {"src": url, "dest": "/opt/nodejs", "remote_src": True, "extra_opts": ["--strip-components=1"]}}]
    assert unpack_download(url, Invocation(argv=("tar", "-xz"), cwd="/srv"))[0].args["dest"] == "/srv"  # type: ignore[index]
    # before any cd: the directory the script started in, as the playbook names it
    assert unpack_download(url, Invocation(argv=("tar", "-xz")))[0].args["dest"] == START_DIRECTORY  # type: ignore[index]
    for tar in (("tar", "-xzf", "other.tgz"), ("tar", "-tz")):  # another file, a listing
        assert unpack_download(url, Invocation(argv=tar)) is None
    assert unpack_download(url, Invocation(argv=("tar", "-xz"), cwd=UNKNOWN_DIRECTORY)) is None  # lost after a cd
    assert unpack_download("file.tgz", Invocation(argv=("tar", "-xz"), cwd="/srv")) is None


def test_sed_inserts_a_value_worked_out_on_the_host_as_written_and_says_so() -> None:
    found = apply_rules(Invocation(argv=("sed", "-i.bak", "s/DB_PASSWORD=.*$/DB_PASSWORD={{ shell_db_pass }}/", "/srv/.env")))
    assert found is not None
    backup, task = found[1]
    assert backup.args == {"src": "/srv/.env", "dest": "/srv/.env.bak", "remote_src": True, "mode": "preserve"}
    assert task.args == {"path": "/srv/.env", "regexp": "DB_PASSWORD=.*$",
                         "replace": "DB_PASSWORD={{ shell_db_pass | replace(('%c' | format(92)), (('%c' | format(92)) ~ ('%c' | format(92)))) }}"}
    assert task.note == ("{{ shell_db_pass }} goes in as written; sed would have read a `\\`, `&` or its delimiter "
                         "in the value as its own syntax")
    assert task.name == "Replace DB_PASSWORD=.*$ in /srv/.env"


@pytest.mark.parametrize(("script", "key"), [
    ('K=$(cat /tmp/k)\nsudo -u bob -H bash -c "echo \\"$K\\" | sudo tee -a ~/.ssh/authorized_keys"\n', "{{ shell_k }}"),
    ('echo "ssh-ed25519 AAAA x" | sudo -u bob tee -a ~/.ssh/authorized_keys\n', "ssh-ed25519 AAAA x"),
])
def test_a_key_added_to_a_named_users_authorized_keys_is_authorized_key(script: str, key: str) -> None:
    task = convert_script(script).tasks[-1]
    assert task["ansible.posix.authorized_key"] == {"user": "bob", "key": key, "state": "present"}


def test_a_key_added_to_the_callers_own_authorized_keys_is_a_line() -> None:
    # whose `~` it is (the connecting user, or root under sudo) is not the rule's to guess
    task = convert_script('K=$(cat /tmp/k)\necho "$K" | tee -a ~/.ssh/authorized_keys\n').tasks[-1]
    assert "ansible.builtin.lineinfile" in task


@pytest.mark.parametrize(("script", "query"), [
    # half a statement list through modules would run the other half nowhere: all of it, in order
    ('mysql -e "CREATE DATABASE a; SELECT 1"\n', ["CREATE DATABASE a", "SELECT 1"]),
    ("mysql -e \"DELETE FROM mysql.user WHERE User='root' AND Host NOT IN ('localhost')\"\n",  # which hosts is a query
     "DELETE FROM mysql.user WHERE User='root' AND Host NOT IN ('localhost')"),
    ('mysql -e "UPDATE t SET v=\'{{x}}\'"\n', "{% raw %}UPDATE t SET v='{{x}}'{% endraw %}"),
])
def test_sql_no_module_says_runs_whole_through_mysql_query(script: str, query: Any) -> None:
    conversion = convert_script(script)
    assert [t["community.mysql.mysql_query"]["query"] for t in conversion.tasks] == [query]
    assert "not idempotent" in conversion.warnings[0]


def test_a_repository_line_holding_a_value_the_host_knows_is_still_the_repository_module() -> None:
    conversion = convert_script(
        'echo "deb http://ppa.launchpad.net/nginx/stable/ubuntu $(lsb_release -sc) main" | sudo tee /etc/apt/sources.list.d/nginx.list\n'
        'A=$(uname -m)\nprintf "[x]\\nname=X $A\\nbaseurl=https://h/$A\\nenabled=1\\n" > /etc/yum.repos.d/x.repo\n')
    assert conversion.tasks[0]["ansible.builtin.apt_repository"]["repo"] == \
        "deb http://ppa.launchpad.net/nginx/stable/ubuntu {{ ansible_facts.distribution_release }} main"
    assert conversion.tasks[1]["ansible.builtin.yum_repository"]["baseurl"] == "https://h/{{ ansible_facts.architecture }}"
