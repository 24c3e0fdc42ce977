#!/usr/bin/env bash
# Print the path of a Python 3.10 interpreter (Rasa 3.6 needs 3.8-3.10), or explain what to install.
set -u
candidates=("${PYTHON:-}" python3.10)
for dir in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.10.*; do
  [ -x "$dir/bin/python" ] && candidates+=("$dir/bin/python")
done
candidates+=(/usr/bin/python3.10 /usr/local/bin/python3.10 python3)
for c in "${candidates[@]}"; do
  [ -n "$c" ] || continue
  path=$(command -v "$c" 2>/dev/null) || continue
  version=$("$path" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) || continue
  if [ "$version" = "3.10" ]; then
    echo "$path"
    exit 0
  fi
done
cat >&2 <<'MSG'
error: Python 3.10 not found. Rasa Open Source 3.6 runs on Python 3.8-3.10.
Install it, for example with `pyenv install 3.10` or your system's python3.10 package
(Debian/Ubuntu: apt-get install python3.10 python3.10-venv), or point PYTHON at it:
  make run PYTHON=/path/to/python3.10
MSG
exit 1
