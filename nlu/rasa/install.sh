#!/usr/bin/env bash
# Install Rasa 3.6.21 into its own virtualenv, once, however many runs ask for it at the same time.
#
#   install.sh VENV VAR_DIR               install now, in the foreground (`make rasa-venv`)
#   install.sh --background VENV VAR_DIR  install in the background and return at once (`make run`)
#   (--child is that background install itself: its output goes to VAR_DIR/rasa-install.log)
#
# RASA_PYTHON names the Python 3.10 to use; UV, if set, the uv that installs (much faster than pip,
# the same packages under the same pins); without it pip does. Both forms take the same lock (VAR_DIR/rasa-install.lock),
# so `make run`, `make rasa-venv` and `make test` never install into the same directory together:
# a foreground install waits for a running one and then finds the work done; a background install
# leaves it to the one already running. VAR_DIR/rasa-install.status says what the last install is
# doing, for the gateway to show (bot/runtime/rasa_env.py reads it):
#   installing PID | failed EXIT | done
# A failed install is reported there and in VAR_DIR/rasa-install.log; it is tried again only when
# someone runs `make run` or `make rasa-venv` again, never in a loop.
set -uo pipefail

mode=foreground
case ${1:-} in --background) mode=background; shift ;; --child) mode=child; shift ;; esac
if [ $# -ne 2 ]; then echo "usage: $0 [--background] VENV VAR_DIR" >&2; exit 2; fi
venv=$1
var=$2
here=$(cd "$(dirname "$0")" && pwd)
constraints=$here/constraints.txt
python=${RASA_PYTHON:-python3.10}
lock=$var/rasa-install.lock
log=$var/rasa-install.log
status=$var/rasa-install.status
mkdir -p "$var"

# Up to date when the marker is newer than the pins (what make's rule `.installed: constraints.txt` means).
installed() { [ -f "$venv/.installed" ] && [ "$venv/.installed" -nt "$constraints" ]; }

install() {
  if [ ! -x "$python" ] && ! command -v "$python" >/dev/null; then
    echo "Python 3.10 is needed for Rasa ($python not found): install it or set RASA_PYTHON"
    return 1
  fi
  if [ -n "${UV:-}" ] && [ -x "$UV" ]; then
    "$UV" venv --quiet --seed --allow-existing --python "$python" "$venv" &&
      "$UV" pip install --quiet --compile-bytecode --python "$venv/bin/python" -c "$constraints" rasa==3.6.21 &&
      touch "$venv/.installed"
  else
    "$python" -m venv "$venv" &&
      "$venv/bin/pip" install --quiet --upgrade pip &&
      "$venv/bin/pip" install --quiet -c "$constraints" rasa==3.6.21 &&
      touch "$venv/.installed"
  fi
}

# Runs with the lock held: installs unless someone finished while we waited, and keeps the status.
install_locked() {
  if installed; then echo "done" >"$status"; return 0; fi
  echo "installing $$" >"$status"
  echo "installing Rasa 3.6.21 into $venv ($(date -u '+%Y-%m-%d %H:%M:%S') UTC)"
  install
  local rc=$?
  if [ $rc -eq 0 ]; then
    echo "done" >"$status"
    echo "Rasa installed into $venv ($(date -u '+%Y-%m-%d %H:%M:%S') UTC)"
  else
    echo "failed $rc" >"$status"
    echo "installing Rasa failed (exit $rc); run \`make rasa-venv\` to try again"
  fi
  return $rc
}

case $mode in
  foreground)
    exec 9>"$lock"
    if ! flock -n 9; then
      echo "Rasa is being installed by another run (log: $log); waiting for it"
      flock 9
    fi
    if installed; then echo "Rasa is installed in $venv"; exit 0; fi
    # The log gets this output too: a gateway waiting for this install points to it.
    install_locked 2>&1 | tee "$log"
    exit "${PIPESTATUS[0]}"
    ;;
  child)
    # If another run took the lock since the parent looked, the work is theirs.
    exec 9>"$lock"
    flock -n 9 || exit 0
    exec >"$log" 2>&1 </dev/null
    install_locked
    exit $?
    ;;
esac

if installed; then exit 0; fi
if ! flock -n "$lock" true; then
  echo "Rasa is already being installed by another run (log: $log)"
  exit 0
fi
# A session of its own: stopping the gateway (Ctrl-C) does not stop a half-done 2.7 GB install,
# and the next `make run` uses what it installed.
setsid bash "$here/install.sh" --child "$venv" "$var" </dev/null >/dev/null 2>&1 &
echo "Rasa is being installed in the background (log: $log); the in-process engine answers until it is ready"
