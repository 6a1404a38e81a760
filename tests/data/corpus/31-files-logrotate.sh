#!/bin/bash
# Logrotate policy and log directory for a custom service
ROOT=/tmp/corpus-root/logrotate
install -d -m 0750 $ROOT/var/log/acme
install -d $ROOT/etc/logrotate.d
cat > $ROOT/etc/logrotate.d/acme <<'EOF'
/var/log/acme/*.log {
    daily
    rotate 14
    compress
    delaycompress
    missingok
    notifempty
}
EOF
printf '%s\n' 'include /etc/logrotate.d' > $ROOT/etc/logrotate.conf
