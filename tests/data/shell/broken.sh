echo before
if [ -f /x ]; then
  echo inside
echo "unterminated
fi
echo after
