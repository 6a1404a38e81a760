#!/bin/bash
# OpenJDK 17 and Maven on AlmaLinux
set -e
sudo yum install -y java-17-openjdk java-17-openjdk-devel maven
sudo tee /etc/profile.d/java.sh <<'EOF'
export JAVA_HOME=/usr/lib/jvm/java-17-openjdk
export PATH=$JAVA_HOME/bin:$PATH
EOF
java -version
