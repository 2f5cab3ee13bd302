# Shared by every bats suite: a temp dir per test, background processes that teardown
# kills exactly, readiness by polling, free ports, certificates.
# shellcheck shell=bash

: "${BIN:?BIN must point at the built binaries (make test sets it)}"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FIXTURES=$ROOT/tests/fixtures

setup_tmp() {
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/relay-test.XXXXXX")
	PIDS_FILE=$TMP/.pids
	: >"$PIDS_FILE"
}

# Starts NAME in the background: stdout to $TMP/NAME.out, stderr to $TMP/NAME.err.
# The pid is recorded for teardown and left in $LAST_PID. Each runs in its own process
# group, so teardown also ends whatever it started (a pipeline's stages, a node's tools).
start() {
	local name=$1
	shift
	setsid "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" 3>&- &
	LAST_PID=$!
	echo "$LAST_PID $name" >>"$PIDS_FILE"
}

# Same, with stdin from FILE.
start_in() {
	local name=$1 input=$2
	shift 2
	setsid "$@" <"$input" >"$TMP/$name.out" 2>"$TMP/$name.err" 3>&- &
	LAST_PID=$!
	echo "$LAST_PID $name" >>"$PIDS_FILE"
}

pid_of() {
	awk -v n="$1" '$2 == n { p = $1 } END { print p }' "$PIDS_FILE"
}

# Kills every recorded process, prints their logs when the test failed, removes $TMP.
teardown_tmp() {
	local pid name
	if [ -f "${PIDS_FILE:-/nonexistent}" ]; then
		while read -r pid name; do
			kill -CONT -- "-$pid" 2>/dev/null
			kill -CONT "$pid" 2>/dev/null
			kill "$pid" 2>/dev/null
		done <"$PIDS_FILE"
		# serve may take up to 10 s to close its clients and go.
		local deadline=$((SECONDS + 12))
		while read -r pid name; do
			while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
			kill -9 -- "-$pid" 2>/dev/null
			kill -9 "$pid" 2>/dev/null
		done <"$PIDS_FILE"
	fi
	if [ -z "${BATS_TEST_COMPLETED:-}" ] && [ -d "${TMP:-}" ]; then
		for f in "$TMP"/*.err; do
			[ -f "$f" ] || continue
			echo "--- $(basename "$f") (last 30 lines)"
			tail -n 30 "$f"
		done
	fi
	# KEEP_TMP=1 keeps the directory of a failed test for a closer look.
	if [ -n "${KEEP_TMP:-}" ] && [ -z "${BATS_TEST_COMPLETED:-}" ]; then
		echo "kept $TMP"
	elif [ -d "${TMP:-}" ]; then
		rm -rf "$TMP"
	fi
	return 0
}

# wait_until SECONDS COMMAND...: polls COMMAND every 50 ms until it succeeds.
wait_until() {
	local limit=$1
	shift
	local deadline=$((SECONDS + limit))
	until "$@"; do
		if [ $SECONDS -ge $deadline ]; then
			echo "timed out after ${limit}s waiting for: $*" >&2
			return 1
		fi
		sleep 0.05
	done
}

# Number of lines of FILE matching the fixed string PATTERN.
count() {
	local n
	n=$(grep -cF -- "$2" "$1" 2>/dev/null) || true
	echo "${n:-0}"
}

at_least() { # at_least N FILE PATTERN
	[ "$(count "$2" "$3")" -ge "$1" ]
}

# A TCP port on 127.0.0.1 that nothing listens on now, below the kernel's range for
# outgoing connections (ip_local_port_range, 32768 and up by default), so no client socket
# can take it between this check and the server's bind.
free_port() {
	local low port
	low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null) || low=32768
	[ "${low:-0}" -gt 12000 ] || low=32000
	for _ in $(seq 1 100); do
		port=$((10000 + RANDOM % (low - 10000)))
		if ! (exec 9<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	return 1
}

# Makes a CA and a server certificate for 127.0.0.1/localhost signed by it, in $TMP/tls.
make_certs() {
	local d=$TMP/tls
	mkdir -p "$d"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=relay test CA" \
		-keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null || return 1
	openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
		-keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null || return 1
	printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$d/ext.cnf"
	openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
		-days 2 -extfile "$d/ext.cnf" -out "$d/server.crt" 2>/dev/null || return 1
}

# Value of metric NAME (with exact label text LABELS, or none) in FILE.
metric() {
	local file=$1 name=$2 labels=${3:-}
	local key=$name
	[ -n "$labels" ] && key="$name{$labels}"
	awk -v k="$key" '$1 == k { print $2; found = 1 } END { if (!found) print "missing" }' "$file"
}

# start_fakex NAME EXCHANGE [OPTIONS...]: a fake exchange on a free port, with a control
# socket at $TMP/NAME.sock and events in $TMP/NAME.events; its port goes to $FX_PORT.
start_fakex() {
	local name=$1 ex=$2
	shift 2
	start "$name" "$BIN/fakex" -x "$ex" -p 0 --control "$TMP/$name.sock" --events "$TMP/$name.events" "$@"
	wait_until 10 grep -q '^listening' "$TMP/$name.out" || return 1
	FX_PORT=$(awk '/^listening/ { print $2 }' "$TMP/$name.out")
}

# fx NAME COMMAND...: one control command to a fake exchange; prints its answer.
fx() {
	local name=$1
	shift
	printf '%s\n' "$*" | timeout 5 nc -U -q 1 "$TMP/$name.sock"
}

# A process is alive and not a zombie.
alive() { kill -0 "$1" 2>/dev/null; }

# fx_stat_ge NAME FIELD N: the fake exchange's stats FIELD is at least N.
fx_stat_ge() {
	local v
	v=$(fx "$1" stats | jq -r ".$2" 2>/dev/null)
	[ -n "$v" ] && [ "$v" != null ] && [ "$v" -ge "$3" ]
}

# fx_stat_eq NAME FIELD N: the fake exchange's stats FIELD is N.
fx_stat_eq() {
	local v
	v=$(fx "$1" stats | jq -r ".$2" 2>/dev/null)
	[ "$v" = "$3" ]
}

# start_serve [OPTIONS...]: serve on a free port reading the FIFO $TMP/serve.in, which the
# test writes to with `feed`. Sets $PORT and $WS (the WebSocket URL).
start_serve() {
	PORT=$(free_port)
	[ -p "$TMP/serve.in" ] || mkfifo "$TMP/serve.in"
	exec 8<>"$TMP/serve.in"
	start serve "$BIN/serve" --port "$PORT" --bind 127.0.0.1 --input "$TMP/serve.in" "$@"
	WS="ws://127.0.0.1:$PORT/ws/exchange"
	wait_until 10 bash -c "curl -fsk 'http://127.0.0.1:$PORT/health' -o /dev/null || curl -fsk 'https://127.0.0.1:$PORT/health' -o /dev/null"
}

# A serve that died leaves nobody reading the FIFO: fail instead of blocking the suite.
feed() {
	timeout 20 cat "$@" >&8 || { echo "feed: serve did not take its input within 20 s" >&2; return 1; }
}

# A normalized line: line TYPE EXCHANGE SYMBOL N
line() {
	case $1 in
	trade) printf '{"type":"trade","exchange":"%s","symbol":"%s","ts":1,"local_ts":%s,"id":"%s","price":1.5,"amount":2,"side":"buy"}\n' "$2" "$3" "$(date +%s%6N)" "$4" ;;
	ticker) printf '{"type":"ticker","exchange":"%s","symbol":"%s","ts":1,"local_ts":%s,"last":%s}\n' "$2" "$3" "$(date +%s%6N)" "$4" ;;
	book) printf '{"type":"book","exchange":"%s","symbol":"%s","local_ts":%s,"bids":[[%s,1]],"asks":[[%s,1]]}\n' "$2" "$3" "$(date +%s%6N)" "$4" "$(( $4 + 1 ))" ;;
	esac
}

# serve_metric NAME: a metric's value from serve's /metrics.
serve_metric() {
	{ curl -fs "http://127.0.0.1:$PORT/metrics" || curl -fsk "https://127.0.0.1:$PORT/metrics"; } 2>/dev/null | awk -v k="$1" '$1 == k { print $2 }'
}

serve_clients_eq() { [ "$(serve_metric exchange_serve_clients)" = "$1" ]; }

# start_zk: a real ZooKeeper (Debian's) on a free loopback port with a 200 ms tick, so
# session timeouts down to 400 ms are allowed. Sets $ZK (host:port).
start_zk() {
	local port
	port=$(free_port)
	mkdir -p "$TMP/zk/data"
	cat >"$TMP/zk/zoo.cfg" <<-CFG
		tickTime=200
		dataDir=$TMP/zk/data
		clientPort=$port
		clientPortAddress=127.0.0.1
		admin.enableServer=false
		4lw.commands.whitelist=srvr,ruok
		minSessionTimeout=400
		maxSessionTimeout=20000
	CFG
	[ -f /usr/share/java/zookeeper.jar ] || { echo "ZooKeeper is not installed (make deps)"; return 1; }
	start zk java -Dzookeeper.log.dir="$TMP/zk" -cp /usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar \
		org.apache.zookeeper.server.ZooKeeperServerMain "$TMP/zk/zoo.cfg"
	ZK=127.0.0.1:$port
	wait_until 30 zk_up
}

zk_up() { echo srvr | timeout 3 nc -w 2 -q 1 "${ZK%:*}" "${ZK#*:}" 2>/dev/null | grep -q "Mode: standalone"; }

# start_kafka [BROKERS]: librdkafka's mock cluster. Sets $KAFKA (bootstrap list); control
# socket $TMP/kafka.sock takes "down" and "up".
start_kafka() {
	start kafka "$BIN/kafka-mock" --brokers "${1:-3}" --topic exchange.normalized --control "$TMP/kafka.sock"
	wait_until 10 grep -q '^bootstrap' "$TMP/kafka.out"
	KAFKA=$(awk '/^bootstrap/ { print $2 }' "$TMP/kafka.out")
}

kafka_cmd() { printf '%s\n' "$1" | timeout 5 nc -U -q 1 "$TMP/kafka.sock"; }

# start_nginx CONF PORT1 PORT2: the project's deploy/CONF, real nginx on loopback, in front
# of the nodes on PORT1 and PORT2 (its backend1 and backend2). Plain port in $NGX_PORT, TLS
# port (nginx-tls.conf) in $NGX_TLS_PORT.
start_nginx() {
	local nginx
	nginx=$(PATH=$PATH:/usr/sbin:/sbin command -v nginx || true)
	[ -n "$nginx" ] || { echo "nginx is not installed (make deps)"; return 1; }
	local conf=$1 p1=$2 p2=$3 d=$TMP/nginx
	NGX_PORT=$(free_port)
	NGX_TLS_PORT=$(free_port)
	mkdir -p "$d/cache"
	sed -e "s#backend1:8080#127.0.0.1:$p1#" -e "s#backend2:8080#127.0.0.1:$p2#" \
		-e "s#listen 80;#listen 127.0.0.1:$NGX_PORT;#" -e "s#listen 443 ssl;#listen 127.0.0.1:$NGX_TLS_PORT ssl;#" \
		-e "s#/var/run/nginx.pid#$d/nginx.pid#" -e "s#/var/cache/nginx#$d/cache#g" \
		-e "s#/etc/nginx/tls/tls.crt#$TMP/tls/server.crt#" -e "s#/etc/nginx/tls/tls.key#$TMP/tls/server.key#" \
		"$ROOT/deploy/$conf" >"$d/nginx.conf"
	if grep -vE '^\s*#' "$d/nginx.conf" | grep -nE 'backend[0-9]+:|listen +(80|443)\b|/var/run/|/var/cache/|/etc/nginx/'; then
		echo "deploy/$conf names something the test does not render"
		return 1
	fi
	# Workers as the test's user, so they can use the temp directories under $TMP.
	local user=()
	[ "$(id -u)" = 0 ] && user=(-g "user root;")
	start nginx "$nginx" -p "$d/" -c nginx.conf -e "$d/error.log" "${user[@]}"
	if [ "$conf" = nginx-tls.conf ]; then
		wait_until 10 curl -fs --cacert "$TMP/tls/ca.crt" "https://localhost:$NGX_TLS_PORT/health" -o /dev/null
	else
		wait_until 10 curl -fs "http://127.0.0.1:$NGX_PORT/health" -o /dev/null
	fi
}
