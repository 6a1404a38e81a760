#!/bin/bash
# Node.js 20 from NodeSource plus global tools
set -euo pipefail
sudo apt-get install -y ca-certificates curl gnupg
curl -fsSL https://deb.nodesource.com/setup_20.x | sudo -E bash -
sudo apt-get install -y nodejs
sudo npm install -g pm2 yarn
node --version
npm --version
