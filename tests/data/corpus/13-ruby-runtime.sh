#!/bin/bash
# Ruby with bundler for a Rails app
set -euo pipefail
apt-get update
apt-get install -y ruby-full build-essential zlib1g-dev libpq-dev nodejs
gem install bundler --no-document
gem install rails -v 7.1.3 --no-document
mkdir -p /srv/rails
useradd --system --home /srv/rails --shell /usr/sbin/nologin rails
chown rails:rails /srv/rails
