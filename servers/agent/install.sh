#!/bin/sh
# Installs the monitoring console's bundled agent on this host and starts it.
#
#   curl -fsSL @CONSOLE_URL@/agent/install.sh | sudo sh -s -- --token mca_... --hostname NAME
#
# Downloads the agent from the console, checks that one report is delivered, then
# installs a systemd unit (monitoring-agent.service) when systemd runs this host,
# or prints how to run the agent otherwise. Needs Python 3.8 or newer, nothing else.
# Where it goes: MONITORING_AGENT_PREFIX (default /opt/monitoring-agent) and
# MONITORING_AGENT_ETC (default /etc/monitoring-agent, holds the token, mode 0600).
set -eu

CONSOLE="@CONSOLE_URL@"
TOKEN=""
NAME=""
INTERVAL="10"
PREFIX="${MONITORING_AGENT_PREFIX:-/opt/monitoring-agent}"
ETC="${MONITORING_AGENT_ETC:-/etc/monitoring-agent}"
UNIT="/etc/systemd/system/monitoring-agent.service"

usage() {
    echo "usage: sh install.sh --token mca_... [--hostname NAME] [--interval SECONDS] [--url CONSOLE_URL]" >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case "$1" in
        --token) [ $# -ge 2 ] || usage; TOKEN="$2"; shift 2 ;;
        --token=*) TOKEN="${1#*=}"; shift ;;
        --hostname) [ $# -ge 2 ] || usage; NAME="$2"; shift 2 ;;
        --hostname=*) NAME="${1#*=}"; shift ;;
        --interval) [ $# -ge 2 ] || usage; INTERVAL="$2"; shift 2 ;;
        --interval=*) INTERVAL="${1#*=}"; shift ;;
        --url) [ $# -ge 2 ] || usage; CONSOLE="$2"; shift 2 ;;
        --url=*) CONSOLE="${1#*=}"; shift ;;
        -h|--help) usage ;;
        *) echo "unknown option: $1" >&2; usage ;;
    esac
done
[ -n "$TOKEN" ] || usage
[ -n "$NAME" ] || NAME="$(hostname)"

PYTHON="$(command -v python3 || true)"
if [ -z "$PYTHON" ] || ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 8))'; then
    echo "the agent needs Python 3.8 or newer as python3 (e.g. apt-get install python3)" >&2
    exit 1
fi

fetch() {
    if command -v curl >/dev/null 2>&1; then curl -fsSL "$1"
    elif command -v wget >/dev/null 2>&1; then wget -qO- "$1"
    else "$PYTHON" -c 'import sys, urllib.request; sys.stdout.buffer.write(urllib.request.urlopen(sys.argv[1]).read())' "$1"
    fi
}

mkdir -p "$PREFIX" "$ETC"
fetch "$CONSOLE/agent/monitoring_agent.py" > "$PREFIX/monitoring_agent.py.new"
mv "$PREFIX/monitoring_agent.py.new" "$PREFIX/monitoring_agent.py"
( umask 077; printf '%s\n' "$TOKEN" > "$ETC/token" )

set -- "$PYTHON" -S "$PREFIX/monitoring_agent.py" --url "$CONSOLE" --token-file "$ETC/token" \
    --hostname "$NAME" --interval "$INTERVAL"
echo "checking that $NAME can report to $CONSOLE ..."
if ! "$@" --once; then
    echo "the first report was not delivered: check the token and that this host reaches $CONSOLE" >&2
    exit 1
fi
echo "delivered: $NAME is on the fleet page"

if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    cat > "$UNIT" <<EOF
[Unit]
Description=Monitoring console agent ($CONSOLE)
After=network-online.target
Wants=network-online.target

[Service]
ExecStart=$*
Restart=always
RestartSec=5
# root only to read the token file and the docker socket; nothing on disk is writable
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=read-only
PrivateTmp=yes

[Install]
WantedBy=multi-user.target
EOF
    systemctl daemon-reload
    systemctl enable --now monitoring-agent.service
    echo "installed and started monitoring-agent.service (journalctl -u monitoring-agent -f to follow it)"
else
    echo "no systemd on this host; run the agent in the background with:"
    echo "  nohup $* >/var/log/monitoring-agent.log 2>&1 &"
fi
