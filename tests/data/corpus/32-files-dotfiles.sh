#!/bin/bash
# Shell defaults for a service account home, staged under a root directory
set -euo pipefail
HOME_DIR=/tmp/corpus-root/dotfiles/home/ops
mkdir -p "$HOME_DIR/.config" "$HOME_DIR/bin"
cd "$HOME_DIR"

cat > .bashrc <<'EOF'
export EDITOR=vim
export HISTSIZE=10000
alias ll='ls -alF'
EOF
echo 'export PATH="$HOME/bin:$PATH"' >> .bashrc
cat > .vimrc <<'EOF'
set number
set expandtab shiftwidth=4
EOF
sed -i 's/shiftwidth=4/shiftwidth=2/' .vimrc
ln -sf "$HOME_DIR/.vimrc" "$HOME_DIR/.config/vimrc"
