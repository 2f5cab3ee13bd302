#!/bin/sh
# `zkServer.sh status`, as compose.yml's health check calls it: ZooKeeper answers srvr
# with its mode once it serves.
[ "${1:-}" = status ] || { echo "usage: zkServer.sh status" >&2; exit 2; }
echo srvr | nc -w 2 -q 1 127.0.0.1 2181 | grep -q '^Mode: '
