#!/bin/bash
# Message of the day and login banner, staged under a root directory
set -euo pipefail
ROOT=/tmp/corpus-root/motd

mkdir -p $ROOT/etc/update-motd.d
cat > $ROOT/etc/motd <<'EOF'
Authorized access only.
All activity on this host is logged.
EOF
cat > $ROOT/etc/update-motd.d/50-landscape <<'EOF'
#!/bin/sh
echo "Host: $(hostname)  Load: $(cut -d' ' -f1 /proc/loadavg)"
EOF
chmod 755 $ROOT/etc/update-motd.d/50-landscape
echo "Authorized access only." > $ROOT/etc/issue.net
