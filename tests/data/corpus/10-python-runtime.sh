#!/bin/bash
# Python 3 toolchain for data jobs
set -e
sudo apt-get update && sudo apt-get install -y python3 python3-venv python3-pip python3-dev build-essential
sudo mkdir -p /opt/jobs
sudo python3 -m venv /opt/jobs/venv
sudo /opt/jobs/venv/bin/pip install --upgrade pip
sudo /opt/jobs/venv/bin/pip install pandas==2.2.2 requests boto3
python3 --version
