echo one
echo two \
  three

# comment
cat > /tmp/f <<EOF
line
EOF
if true; then
  echo x
fi
echo last
