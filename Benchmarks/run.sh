#!/usr/bin/env bash
# The benchmark in one command, from a fresh clone:
#   bash Benchmarks/run.sh                       # the table: bare NIO, Parley (fsync'd, NORMAL, memory), Flask
#   bash Benchmarks/run.sh --rows sqlite-full,sqlite-full-stored   # 1,000,000 stored conversations vs empty
#   bash Benchmarks/run.sh --soak 600            # ten minutes of load, resident memory per minute
#   bash Benchmarks/run.sh --rows sqlite-full,postgres   # the same pipeline on a local PostgreSQL
#   bash Benchmarks/run.sh --rows bare,hummingbird,signature-only   # a Swift framework's floor
# Installs wrk (Debian) and the Flask tutorial stack (PyPI, into Benchmarks/.venv), builds in
# release mode, then runs `ParleyBench run` with the arguments given (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."

bash Scripts/bootstrap.sh
if ! command -v wrk >/dev/null 2>&1; then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq wrk >/dev/null
fi
if [ ! -x Benchmarks/.venv/bin/gunicorn ]; then
  python3 -m venv Benchmarks/.venv
  Benchmarks/.venv/bin/pip install -q -r Benchmarks/requirements.txt
fi
swift build -c release --product ParleyBench
# The hummingbird row's server is a package of its own (Parley never builds Hummingbird), built
# into a folder of .build when the row is asked for.
if [[ " $* " == *hummingbird* ]]; then
  swift build -c release --package-path Benchmarks/Peers/HummingbirdPeer \
    --scratch-path .build/peers/hummingbird
fi
# The postgres row needs a server: a throwaway local cluster, stopped when the run ends.
if [[ " $* " == *postgres* ]] && [ -z "${PARLEY_POSTGRES_URL:-}" ]; then
  eval "$(bash Scripts/postgres.sh start)"
  trap 'bash Scripts/postgres.sh stop' EXIT
fi
.build/release/ParleyBench run "$@"
