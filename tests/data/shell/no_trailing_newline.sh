sudo apt-get install -y nginx
sudo systemctl enable nginx
cat <<EOF > /tmp/x
no newline
EOF
echo done