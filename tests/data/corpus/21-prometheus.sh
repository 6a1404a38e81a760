#!/bin/bash
# Prometheus server scraping the node exporters
set -euo pipefail
PROM_VERSION=2.53.0

groupadd --system prometheus
useradd -s /sbin/nologin --system -g prometheus prometheus
mkdir -p /etc/prometheus /var/lib/prometheus

curl -fsSLo /tmp/prometheus.tar.gz \
  https://github.com/prometheus/prometheus/releases/download/v${PROM_VERSION}/prometheus-${PROM_VERSION}.linux-amd64.tar.gz
tar -xzf /tmp/prometheus.tar.gz -C /tmp
mv /tmp/prometheus-${PROM_VERSION}.linux-amd64/prometheus /usr/local/bin/
mv /tmp/prometheus-${PROM_VERSION}.linux-amd64/promtool /usr/local/bin/

cat > /etc/prometheus/prometheus.yml <<'EOF'
global:
  scrape_interval: 15s
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ['10.0.0.11:9100', '10.0.0.12:9100']
EOF
chown -R prometheus:prometheus /etc/prometheus /var/lib/prometheus

cat > /etc/systemd/system/prometheus.service <<'EOF'
[Unit]
Description=Prometheus
After=network-online.target

[Service]
User=prometheus
ExecStart=/usr/local/bin/prometheus --config.file=/etc/prometheus/prometheus.yml --storage.tsdb.path=/var/lib/prometheus
Restart=on-failure

[Install]
WantedBy=multi-user.target
EOF
systemctl daemon-reload
systemctl enable --now prometheus
