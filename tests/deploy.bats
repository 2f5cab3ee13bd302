#!/usr/bin/env bats
# The deployment files (compose.yml, deploy/): parsed, cross-checked against the relay and
# against each other, and run wherever this machine can run them: nginx -t, promtool, the
# Dockerfile's build step, a real node's metrics, a real Prometheus, `kubectl kustomize`.
# compose.yml itself runs in containers under make deploy-test (deploy/test/run); no
# Kubernetes cluster here, so deploy/k8s is rendered offline and cross-checked, not run.
#
# Needs nginx, prometheus (promtool), jq, openssl, yq (YAML to JSON; Debian package yq) and
# kubectl (Debian package kubernetes-client). A missing tool fails the test that needs it.

load helpers

setup() { setup_tmp; }
teardown() {
	# The node first, while ZooKeeper and Kafka are still there: wait until it has stopped
	# its stages, then sweep its process group (start_full_node runs it under setsid), so
	# that no stage loop outlives the run directory (it would restart its stage forever).
	if [ -f "${PIDS_FILE:-/nonexistent}" ]; then
		local p deadline=$((SECONDS + 15))
		p=$(pid_of node)
		[ -z "$p" ] || kill -TERM "$p" 2>/dev/null || true
		if [ -n "$p" ]; then
			while kill -0 "$p" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
			kill -KILL -- "-$p" 2>/dev/null || true
		fi
	fi
	teardown_tmp
}

# need COMMAND PACKAGE: fails, with the package to install, when COMMAND is missing.
need() {
	PATH=$PATH:/usr/sbin:/sbin command -v "$1" >/dev/null && return 0
	echo "$1 is not installed (Debian package $2; make deps)" >&2
	return 1
}

# to_json FILE: the YAML FILE (every document) as a JSON array in $TMP/<name>.json.
to_json() {
	need yq yq || return 1
	local out
	out=$TMP/$(basename "$1").json
	yq -c . "$1" >"$out.lines" || return 1
	jq -s . "$out.lines" >"$out" || return 1
	echo "$out"
}

# The environment variables scripts/exchanged reads.
exchanged_vars() {
	grep -oE '\$\{?[A-Z][A-Z0-9_]*' "$ROOT/scripts/exchanged" | tr -d '${' | sort -u | jq -R . | jq -s .
}

# render_nginx CONF DIR: deploy/CONF with loopback ports and paths under DIR; prints the
# rendered file's name. Ports in $NGX_PORT and $NGX_TLS_PORT, backends $B1_PORT, $B2_PORT.
render_nginx() {
	local conf=$1 d=$2
	mkdir -p "$d/cache"
	sed -e "s#backend1:8080#127.0.0.1:${B1_PORT:-1}#" -e "s#backend2:8080#127.0.0.1:${B2_PORT:-2}#" \
		-e "s#listen 80;#listen 127.0.0.1:$NGX_PORT;#" -e "s#listen 443 ssl;#listen 127.0.0.1:$NGX_TLS_PORT ssl;#" \
		-e "s#/var/run/nginx.pid#$d/nginx.pid#" -e "s#/var/cache/nginx#$d/cache#g" \
		-e "s#/etc/nginx/tls/tls.crt#$TMP/tls/server.crt#" -e "s#/etc/nginx/tls/tls.key#$TMP/tls/server.key#" \
		"$ROOT/deploy/$conf" >"$d/$conf"
	# Everything that names the production machine was replaced.
	if grep -vE '^\s*#' "$d/$conf" | grep -nE 'backend[0-9]+:|listen +(80|443)\b|/var/run/|/var/cache/|/etc/nginx/' >&2; then
		echo "deploy/$conf names something the test does not render" >&2
		return 1
	fi
	echo "$d/$conf"
}

@test "compose.yml: every service of the stack; --profile local is only Kafka and ZooKeeper" {
	c=$(to_json "$ROOT/compose.yml")
	for s in zookeeper kafka kafka-ui backend1 backend2 nginx prometheus grafana; do
		jq -e --arg s "$s" '.[0].services[$s] | type == "object"' "$c" >/dev/null || { echo "no service $s"; false; }
	done
	# Every service has a profile, so `--profile local` starts nothing else.
	[ "$(jq -r '[.[0].services | to_entries[] | select(.value.profiles | index("local")) | .key] | sort | join(" ")' "$c")" = "kafka zookeeper" ]
	jq -e '[.[0].services[] | select((.profiles // []) | length == 0)] | length == 0' "$c"
	jq -e '(.[0].services | length) as $n | [.[0].services[] | select(.profiles | index("full"))] | length == $n' "$c"
	# Both backends are built from deploy/Dockerfile with the repository as context.
	for b in backend1 backend2; do
		jq -e --arg b "$b" '.[0].services[$b].build == {"context": ".", "dockerfile": "deploy/Dockerfile"}' "$c"
		# A stop leaves serve its 10 s to close clients with 1001.
		jq -e --arg b "$b" '.[0].services[$b].stop_grace_period | test("^(1[0-9]|[2-9][0-9])s$")' "$c"
		# A node that cannot run (exit 2) is retried a few times, then left stopped with its
		# status, never restarted in a loop (exchanged restarts the stages itself).
		jq -e --arg b "$b" '.[0].services[$b].restart | test("^on-failure:[1-9]$")' "$c"
	done
	# Kafka: one partition for one order, and the listener the backends are given.
	jq -e '.[0].services.kafka.environment.KAFKA_NUM_PARTITIONS == "1"' "$c"
}

@test "compose.yml: backend variables are exchanged's; addresses and ports match the services; mounted files exist" {
	c=$(to_json "$ROOT/compose.yml")
	exchanged_vars >"$TMP/vars.json"
	for b in backend1 backend2; do
		# Every variable given to a backend is one scripts/exchanged reads.
		jq -r --arg b "$b" '.[0].services[$b].environment | keys[]' "$c" >"$TMP/env"
		[ -s "$TMP/env" ]
		while read -r v; do
			jq -e --arg v "$v" 'index($v) != null' "$TMP/vars.json" >/dev/null || { echo "$b: exchanged does not read $v"; false; }
		done <"$TMP/env"
		env_of() { jq -r --arg b "$b" --arg v "$1" '.[0].services[$b].environment[$v] // empty' "$c"; }
		[ "$(env_of NODE_ID)" = "$b" ]
		[ "$(env_of ADVERTISED_URL)" = "ws://$b:$(env_of PORT)$(env_of WS_PATH)" ]
		[ "$(env_of RUN_DIR)" = /run/exchange ]
		# Kafka and ZooKeeper addresses name services of this file, on their listeners.
		kafka=$(env_of KAFKA_BOOTSTRAP_SERVERS)
		jq -e --arg a "PLAINTEXT://$kafka" '.[0].services.kafka.environment.KAFKA_ADVERTISED_LISTENERS | split(",") | index($a) != null' "$c"
		zk=$(env_of ZOOKEEPER_CONNECT)
		[ "${zk%:*}" = zookeeper ]
		jq -e --arg p "${zk#*:}" '.[0].services.zookeeper.ports | map(split(":") | last) | index($p) != null' "$c"
	done
	jq -e '.[0].services["kafka-ui"].environment.KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS as $k
		| .[0].services.kafka.environment.KAFKA_ADVERTISED_LISTENERS | split(",") | index("PLAINTEXT://" + $k) != null' "$c"

	# nginx's upstream servers and Prometheus's targets are the backends, on their PORT.
	awk '$1 == "server" && $2 ~ /:[0-9]+$/ { print $2 }' "$ROOT/deploy/nginx.conf" >"$TMP/nginx.targets"
	awk '$1 == "server" && $2 ~ /:[0-9]+$/ { print $2 }' "$ROOT/deploy/nginx-tls.conf" | diff "$TMP/nginx.targets" -
	p=$(to_json "$ROOT/deploy/prometheus.yml")
	jq -r '.[0].scrape_configs[] | select(.job_name == "relay") | .static_configs[].targets[]' "$p" >"$TMP/prom.targets"
	diff "$TMP/nginx.targets" "$TMP/prom.targets"
	[ "$(wc -l <"$TMP/nginx.targets")" -ge 2 ]
	while IFS=: read -r host port; do
		jq -e --arg h "$host" --arg p "$port" '.[0].services[$h].environment.PORT == $p' "$c" >/dev/null || { echo "no backend $host:$port"; false; }
	done <"$TMP/nginx.targets"
	# nginx's container port is the one the file listens on.
	jq -e '.[0].services.nginx.ports | map(split(":") | last) | index("80") != null' "$c"
	# Grafana's datasource is the prometheus service on its port.
	g=$(to_json "$ROOT/deploy/grafana/provisioning/datasources/prometheus.yml")
	url=$(jq -r '.[0].datasources[] | select(.type == "prometheus") | .url' "$g")
	[ "$url" = http://prometheus:9090 ]
	jq -e '.[0].services.prometheus.ports | map(split(":") | last) | index("9090") != null' "$c"

	# Every file or directory the compose file mounts or builds from exists.
	jq -r '.[0].services[] | (.volumes // [])[] | select(startswith("./")) | split(":")[0]' "$c" >"$TMP/mounts"
	[ "$(wc -l <"$TMP/mounts")" -ge 5 ]
	while read -r m; do [ -e "$ROOT/$m" ] || { echo "missing $m"; false; }; done <"$TMP/mounts"
	jq -r '.[0].services[] | select(.build) | .build.context + "/" + .build.dockerfile' "$c" | while read -r f; do [ -f "$ROOT/$f" ]; done
	# The config files land where the programs read them.
	mount_target() { jq -r --arg s "$1" --arg src "$2" '.[0].services[$s].volumes[] | select(startswith($src + ":")) | split(":")[1]' "$c"; }
	[ "$(mount_target nginx ./deploy/nginx.conf)" = /etc/nginx/nginx.conf ]
	jq -e '.[0].services.nginx.command | index("/etc/nginx/nginx.conf") != null' "$c"
	[ "$(mount_target prometheus ./deploy/prometheus.yml)" = /etc/prometheus/prometheus.yml ]
	jq -e '.[0].services.prometheus.command | index("--config.file=/etc/prometheus/prometheus.yml") != null' "$c"
	jq -r '.[0].rule_files[]' "$p" | while read -r r; do
		[ "$(mount_target prometheus "./deploy/$r")" = "/etc/prometheus/$r" ]
	done
	d=$(to_json "$ROOT/deploy/grafana/provisioning/dashboards/relay.yml")
	[ "$(mount_target grafana ./deploy/grafana/provisioning)" = /etc/grafana/provisioning ]
	[ "$(mount_target grafana ./deploy/grafana/dashboards)" = "$(jq -r '.[0].providers[0].options.path' "$d")" ]
	home=$(jq -r '.[0].services.grafana.environment.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH' "$c")
	[ -f "$ROOT/deploy/grafana/dashboards/$(basename "$home")" ]
	[ "$(dirname "$home")" = "$(mount_target grafana ./deploy/grafana/dashboards)" ]
}

# The Dockerfile with continuation lines joined, one instruction per line.
dockerfile() { sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$ROOT/deploy/Dockerfile" | grep -vE '^\s*(#|$)'; }
# The last stage (the image that runs).
runtime_stage() { dockerfile | awk '/^FROM / { s = "" } { s = s $0 "\n" } END { printf "%s", s }'; }

@test "Dockerfile: Debian 12 stages, COPY sources exist, non-root, exchanged as entry point, health check" {
	dockerfile >"$TMP/df"
	[ "$(grep -c '^FROM ' "$TMP/df")" -eq 2 ]
	[ -z "$(grep '^FROM ' "$TMP/df" | grep -v '^FROM debian:12-slim\b')" ]
	# Every COPY from the build context names something in the repository.
	grep '^COPY ' "$TMP/df" | grep -v -- '--from=' | while read -r _ args; do
		set -- $args
		while [ $# -gt 1 ]; do
			case $1 in --*) ;; *) [ -e "$ROOT/$1" ] || { echo "COPY source $1 does not exist"; exit 1; } ;; esac
			shift
		done
	done
	runtime_stage >"$TMP/rt"
	# A non-root user, the run directory, the port, the health check, the entry point.
	user=$(awk '$1 == "USER" { u = $2 } END { print u }' "$TMP/rt")
	[ -n "$user" ] && [ "$user" != root ] && [ "$user" != 0 ]
	grep -q "useradd .*$user" "$TMP/rt"
	grep -qE '^ENV .*\bRUN_DIR=/run/exchange\b' "$TMP/rt"
	grep -qE "chown $user:$user /run/exchange" "$TMP/rt"
	grep -qE '^EXPOSE 8080$' "$TMP/rt"
	grep -qE '^ENV .*\bPORT=8080\b' "$TMP/rt"
	grep -qE '^HEALTHCHECK .*CMD .*/health' "$TMP/rt"
	entry=$(sed -n 's/^ENTRYPOINT \["\([^"]*\)".*/\1/p' "$TMP/rt")
	[ "$(basename "$entry")" = exchanged ]
	grep -qE "^COPY scripts/exchanged $entry\$" "$TMP/rt"
	# exchanged finds the tools in ../bin and serve finds the page in ../serve/www.
	app=$(dirname "$(dirname "$entry")")
	grep -qE "^COPY --from=build .* $app/bin/\$" "$TMP/rt"
	grep -qE "^COPY serve/www $app/serve/www\$" "$TMP/rt"
	# Every ENV variable is one exchanged reads.
	exchanged_vars >"$TMP/vars.json"
	grep '^ENV ' "$TMP/rt" | grep -oE '\b[A-Z_]+=' | tr -d = | while read -r v; do
		jq -e --arg v "$v" 'index($v) != null' "$TMP/vars.json" >/dev/null || { echo "exchanged does not read $v"; exit 1; }
	done
}

@test "Dockerfile: the runtime stage installs every shared library the tools link" {
	need readelf binutils
	runtime_stage >"$TMP/rt"
	for t in ingest convert distribute serve elect; do
		readelf -d "$BIN/$t" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'
	done | sort -u | grep -vE '^lib(asan|ubsan|lsan|tsan)\.' >"$TMP/needed"
	[ -s "$TMP/needed" ]
	while read -r so; do
		path=$(ldconfig -p | awk -v s="$so" '$1 == s { print $NF; exit }')
		[ -n "$path" ] || { echo "cannot find $so"; false; }
		pkg=
		for p in "$path" "$(readlink -f "$path")" "/usr${path#/usr}" "${path#/usr}"; do
			pkg=$(dpkg -S "$p" 2>/dev/null | head -n 1 | cut -d: -f1) && [ -n "$pkg" ] && break
		done
		[ -n "$pkg" ] || { echo "no package owns $so"; false; }
		[ "$pkg" = libc6 ] && continue # in the base image
		grep -qw -- "$pkg" "$TMP/rt" || { echo "the runtime stage does not install $pkg (for $so)"; false; }
	done <"$TMP/needed"
}

@test "Dockerfile: the build stage's make builds the tools from exactly the files it copies" {
	dockerfile | awk '/^FROM / { n++ } n == 1' >"$TMP/build-stage"
	workdir=$(awk '$1 == "WORKDIR" { print $2 }' "$TMP/build-stage")
	[ -n "$workdir" ]
	mkdir -p "$TMP/ctx"
	# COPY as Docker does it: a directory's contents into the destination, files into a
	# destination ending in / (or one given several sources), relative to WORKDIR.
	grep '^COPY ' "$TMP/build-stage" | while read -r _ args; do
		set -- $args
		dest=${!#}
		several=$(($# > 2))
		while [ $# -gt 1 ]; do
			if [ -d "$ROOT/$1" ]; then
				mkdir -p "$TMP/ctx/$dest" && cp -r "$ROOT/$1/." "$TMP/ctx/$dest/"
			elif [ "$several" = 1 ] || [[ "$dest" == */ || "$dest" == . ]]; then
				mkdir -p "$TMP/ctx/$dest" && cp "$ROOT/$1" "$TMP/ctx/$dest/"
			else
				mkdir -p "$(dirname "$TMP/ctx/$dest")" && cp "$ROOT/$1" "$TMP/ctx/$dest"
			fi || exit 1
			shift
		done
	done
	[ -f "$TMP/ctx/Makefile" ]
	make_cmd=$(sed -n 's/^RUN \(make .*\)/\1/p' "$TMP/build-stage")
	[ -n "$make_cmd" ]
	# A clean environment, as in an image build (the suite's BIN would redirect make).
	(cd "$TMP/ctx" && env -i PATH="$PATH" HOME="$HOME" bash -c "$make_cmd") >"$TMP/make.out" 2>&1 ||
		{ tail -n 30 "$TMP/make.out"; false; }
	# Every binary the runtime stage takes from the build stage was built.
	runtime_stage | grep '^COPY --from=build ' | while read -r _ _ args; do
		set -- $args
		while [ $# -gt 1 ]; do
			src=${1#"$workdir"/}
			[ -x "$TMP/ctx/$src" ] || { echo "not built: $1"; exit 1; }
			shift
		done
	done
}

@test "nginx: nginx -t accepts deploy/nginx.conf and deploy/nginx-tls.conf" {
	need nginx nginx
	need openssl openssl
	make_certs
	NGX_PORT=$(free_port) NGX_TLS_PORT=$(free_port) B1_PORT=$(free_port) B2_PORT=$(free_port)
	user=()
	[ "$(id -u)" = 0 ] && user=(-g "user root;")
	for conf in nginx.conf nginx-tls.conf; do
		d=$TMP/nginx-${conf%.conf}
		f=$(render_nginx "$conf" "$d")
		PATH=$PATH:/usr/sbin nginx -t -q -p "$d/" -c "$(basename "$f")" -e "$d/error.log" "${user[@]}"
	done
	# What both files promise: least connections over the backends with a shared zone,
	# WebSocket upgrade, hours-long WebSocket timeouts, retries on failed or draining nodes.
	for conf in nginx.conf nginx-tls.conf; do
		f=$ROOT/deploy/$conf
		grep -qE '^\s*daemon off;' "$f"
		grep -qE '^\s*least_conn;' "$f"
		grep -qE '^\s*zone relay ' "$f"
		grep -qE '^\s*proxy_http_version 1\.1;' "$f"
		grep -qE '^\s*proxy_set_header Upgrade \$http_upgrade;' "$f"
		grep -qE '^\s*proxy_set_header Connection \$connection_upgrade;' "$f"
		grep -qE '^\s*proxy_next_upstream .*\berror\b.*\bhttp_503\b' "$f"
		for d in proxy_read_timeout proxy_send_timeout; do
			v=$(awk -v d="$d" '$1 == d { print $2 }' "$f" | sort -u | sed 's/;$//' | grep -E '^[0-9]+h$|^[0-9]{4,}s?$')
			[ -n "$v" ] || { echo "$conf: no $d of an hour or more"; false; }
		done
		grep -qE 'location = /health' "$f"
		grep -qE 'location = /ready' "$f"
	done
	grep -qE '^\s*listen 443 ssl;' "$ROOT/deploy/nginx-tls.conf"
	# The TLS file is the plain one plus TLS: every directive of nginx.conf is in it.
	directives() { grep -vE '^\s*(#|$)' "$ROOT/deploy/$1" | sed 's/^\s*//' | sort -u; }
	missing=$(comm -23 <(directives nginx.conf) <(directives nginx-tls.conf))
	[ -z "$missing" ] || { echo "nginx-tls.conf lacks: $missing"; false; }
	grep -qE 'return 301 https://' "$ROOT/deploy/nginx-tls.conf"
	# The WebSocket location covers the path the nodes serve.
	ws=$(yq -r '.services.backend1.environment.WS_PATH' "$ROOT/compose.yml")
	grep -qE "location ${ws%/*}/ " "$ROOT/deploy/nginx.conf"
}

@test "prometheus: promtool accepts the config and the rules, and the alert unit tests pass" {
	need promtool prometheus
	run promtool check config "$ROOT/deploy/prometheus.yml"
	echo "$output"
	[ "$status" -eq 0 ]
	run promtool check rules "$ROOT/deploy/alerts.yml"
	echo "$output"
	[ "$status" -eq 0 ]
	(cd "$ROOT/deploy" && promtool test rules alerts_test.yml)
	# Every alert has a unit test that expects it to fire.
	a=$(to_json "$ROOT/deploy/alerts.yml")
	t=$(to_json "$ROOT/deploy/alerts_test.yml")
	jq -r '.[0].groups[].rules[].alert' "$a" | sort >"$TMP/alerts"
	jq -r '[.[0].tests[].alert_rule_test[] | select(.exp_alerts | length > 0) | .alertname] | unique[]' "$t" >"$TMP/tested"
	diff "$TMP/alerts" "$TMP/tested"
	[ "$(wc -l <"$TMP/alerts")" -ge 8 ]
	for alert in RelayFeedDisconnected RelayFeedSilent RelayNoDataServed RelayConsumerLagHigh RelayNoLeader \
		RelayTwoLeaders RelaySlowClientsClosed RelayKafkaDown RelayBookResyncStorm; do
		grep -qx "$alert" "$TMP/alerts"
	done
}

# The PromQL of every dashboard panel and variable, with Grafana's variables replaced.
dashboard_queries() {
	jq -r '[.. | objects | (.expr?, .query?.query?, .definition?) | strings] | unique[]' \
		"$ROOT/deploy/grafana/dashboards/relay.json" |
		sed -e 's/\$__rate_interval/1m/g' -e 's/\$instance/.*/g'
}

@test "grafana: the dashboard is valid JSON, provisioned from where compose mounts it, every query parses" {
	need promtool prometheus
	jq -e '.uid and .title and (.panels | length >= 10)' "$ROOT/deploy/grafana/dashboards/relay.json"
	# Every panel uses the provisioned Prometheus datasource.
	uid=$(yq -r '.datasources[0].uid' "$ROOT/deploy/grafana/provisioning/datasources/prometheus.yml")
	jq -e --arg u "$uid" '[.panels[] | select(.type != "row") | .datasource.uid] | all(. == $u)' "$ROOT/deploy/grafana/dashboards/relay.json"
	jq -e '[.panels[] | .id] | length == (unique | length)' "$ROOT/deploy/grafana/dashboards/relay.json"
	yq -e '.providers[0].type == "file"' "$ROOT/deploy/grafana/provisioning/dashboards/relay.yml"
	# What the dashboard must show.
	for m in exchange_ingest_frames_total exchange_convert_lines_total exchange_distribute_lines_out_total \
		exchange_serve_messages_sent_total exchange_distribute_consumer_lag exchange_pipeline_latency_seconds_bucket \
		exchange_feed_latency_seconds_bucket exchange_serve_clients exchange_elect_leader exchange_distribute_kafka_mode \
		exchange_convert_book_resyncs_total exchange_process_resident_memory_bytes exchange_ingest_dropped_total; do
		grep -q "\"[^\"]*\\b$m\\b" "$ROOT/deploy/grafana/dashboards/relay.json" || { echo "the dashboard does not use $m"; false; }
	done
	grep -q 'histogram_quantile' "$ROOT/deploy/grafana/dashboards/relay.json"
	# Each query as a recording rule: promtool parses them all.
	dashboard_queries | grep -v '^label_values(' >"$TMP/queries"
	[ "$(wc -l <"$TMP/queries")" -ge 20 ]
	{
		echo 'groups:'
		echo '  - name: dashboard'
		echo '    rules:'
		n=0
		while read -r q; do
			n=$((n + 1))
			printf '      - record: dashboard:q%d\n        expr: %s\n' "$n" "$(jq -Rn --arg q "$q" '$q')"
		done <"$TMP/queries"
	} >"$TMP/dashboard-rules.yml"
	run promtool check rules "$TMP/dashboard-rules.yml"
	echo "$output"
	[ "$status" -eq 0 ]
}

# start_full_node: a node with ZooKeeper (elect) and Kafka (librdkafka's mock), fed by the
# fake exchange, so it exports every metric it can; its /metrics in $TMP/metrics. It leads
# its own process group (setsid execs: the recorded pid is exchanged's).
start_full_node() {
	"$ROOT/bench/gen-trades" 1000 >"$TMP/binance.rec"
	start_fakex fx binance --recording "$TMP/binance.rec" --rate 100 --loop
	start_zk
	start_kafka 1
	PORT=$(free_port)
	mkdir -p "$TMP/run"
	ZOOKEEPER_CONNECT=$ZK ZK_SESSION_TIMEOUT_MS=2000 ZK_ELECTION_PATH=/deploy-test KAFKA_BOOTSTRAP_SERVERS=$KAFKA \
		EXCHANGES="binance:BTC-USDT,ETH-USDT" CHANNELS=trade EXCHANGE_URLS="binance=ws://127.0.0.1:$FX_PORT" \
		NODE_ID=n1 RUN_DIR="$TMP/run" PORT=$PORT BIND=127.0.0.1 ADVERTISED_URL="ws://127.0.0.1:$PORT/ws/exchange" \
		start node "$ROOT/scripts/exchanged"
	wait_until 20 curl -fs "http://127.0.0.1:$PORT/health" -o /dev/null
	# Leader, Kafka up, its consumer reading the topic, and lines reaching serve.
	wait_until 30 node_serving
}
node_serving() {
	curl -fs "http://127.0.0.1:$PORT/metrics" -o "$TMP/metrics" 2>/dev/null &&
		grep -qx 'exchange_elect_leader 1' "$TMP/metrics" && grep -qx 'exchange_kafka_up 1' "$TMP/metrics" &&
		grep -qx 'exchange_distribute_consumer_ready 1' "$TMP/metrics" &&
		awk '$1 == "exchange_serve_lines_total" && $2 > 0 { ok = 1 } END { exit !ok }' "$TMP/metrics"
}

@test "metrics: every name the dashboard and the alerts use is exported by a node" {
	start_full_node
	# A node with ZooKeeper and Kafka configured exports every family: elect's
	# (exchange_elect_*, exchange_zookeeper_connected) exist only with ZOOKEEPER_CONNECT.
	grep -oE '^exchange_[a-z0-9_]+' "$TMP/metrics" | sort -u >"$TMP/exported"
	[ "$(wc -l <"$TMP/exported")" -ge 40 ]
	for f in deploy/grafana/dashboards/relay.json deploy/alerts.yml; do
		grep -oE '\bexchange_[a-z0-9_]+' "$ROOT/$f" | sort -u >"$TMP/used"
		[ "$(wc -l <"$TMP/used")" -ge 8 ]
		missing=$(comm -23 "$TMP/used" "$TMP/exported")
		[ -z "$missing" ] || { echo "$f uses metrics no node exports: $missing"; false; }
	done
	# The alerts' labels exist on those metrics.
	grep -qE '^exchange_ingest_connected\{exchange="binance"\}' "$TMP/metrics"
	grep -qE '^exchange_convert_book_resyncs_total\{exchange="binance"\}' "$TMP/metrics"
	grep -qE '^exchange_process_resident_memory_bytes\{tool="elect"\}' "$TMP/metrics"
}

prom_query() { # prom_query PROMQL: the API's JSON answer
	curl -fsG --max-time 5 "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1"
}
prom_has() { prom_query "$1" | jq -e '.status == "success" and (.data.result | length > 0)' >/dev/null; }
rules_ok() {
	curl -fs --max-time 5 "http://127.0.0.1:$PROM_PORT/api/v1/rules" |
		jq -e '[.data.groups[].rules[]] | length >= 8 and all(.health == "ok")' >/dev/null
}

@test "prometheus: deploy/prometheus.yml scrapes a node, loads the alerts, and every dashboard query evaluates" {
	need prometheus prometheus
	start_full_node
	PROM_PORT=$(free_port)
	mkdir -p "$TMP/prom"
	# The compose file's config with this node as the only backend, scraped every second.
	yq -y --arg t "127.0.0.1:$PORT" --arg rules "$ROOT/deploy/alerts.yml" '
		.global.scrape_interval = "1s" | .global.scrape_timeout = "1s" | .global.evaluation_interval = "1s"
		| .rule_files = [$rules]
		| (.scrape_configs[] | select(.job_name == "relay") | .static_configs) = [{"targets": [$t]}]
		| (.scrape_configs[] | select(.job_name == "prometheus") | .static_configs) = [{"targets": ["127.0.0.1:'"$PROM_PORT"'"]}]' \
		"$ROOT/deploy/prometheus.yml" >"$TMP/prom/prometheus.yml"
	promtool check config "$TMP/prom/prometheus.yml"
	start prometheus prometheus --config.file="$TMP/prom/prometheus.yml" --storage.tsdb.path="$TMP/prom/data" \
		--web.listen-address="127.0.0.1:$PROM_PORT"
	wait_until 30 curl -fs "http://127.0.0.1:$PROM_PORT/-/ready" -o /dev/null
	wait_until 20 prom_has 'up{job="relay"} == 1'
	wait_until 20 prom_has 'exchange_elect_leader == 1'
	wait_until 20 rules_ok
	# Rates need two scrapes in their window.
	wait_until 20 prom_has 'rate(exchange_serve_lines_total[5s]) > 0'
	# The node is healthy (feed connected, one leader, Kafka up, data served): Prometheus
	# evaluates every rule and none of the relay's alerts is even pending.
	prom_query 'ALERTS' | jq -e '.data.result | map(.metric.alertname) | map(select(startswith("Relay"))) | length == 0'
	# Every dashboard query is valid PromQL for this Prometheus; the main ones have data.
	dashboard_queries | grep -v '^label_values(' | sed 's/\[1m\]/[10s]/g' >"$TMP/queries"
	while read -r q; do
		prom_query "$q" | jq -e '.status == "success"' >/dev/null || { echo "query failed: $q"; false; }
	done <"$TMP/queries"
	for q in 'sum(exchange_serve_clients)' 'exchange_elect_leader == 1' 'min(exchange_distribute_kafka_mode)' \
		'sum by (instance) (rate(exchange_ingest_frames_total[10s]))' 'exchange_process_resident_memory_bytes'; do
		prom_has "$q" || { echo "no data: $q"; false; }
	done
}

# ---- Kubernetes ----

# k8s_render DIR: `kubectl kustomize DIR` (offline), every object in one JSON array in
# $TMP/k8s.json; prints that file's name.
k8s_render() {
	need kubectl kubernetes-client || return 1
	need yq yq || return 1
	kubectl kustomize "$1" >"$TMP/k8s.yaml" 2>"$TMP/k8s.err" || { cat "$TMP/k8s.err" >&2; return 1; }
	yq -c . "$TMP/k8s.yaml" | jq -s 'map(select(. != null))' >"$TMP/k8s.json" || return 1
	echo "$TMP/k8s.json"
}

# What the checks below say of the rendered objects (jq): the one object of a kind, the
# Deployment's pod and container (the objects are $docs[0]), whether a selector picks given labels (every pair, exact
# values), and whether a port (name or number) is one of the container's.
K8S_JQ='def objs: $docs[0][];
def one($k): [objs | select(.kind == $k)] | if length == 1 then .[0] else error("want one \($k), have \(length)") end;
def dep: one("Deployment"); def pod: dep.spec.template; def ctr: pod.spec.containers[0];
def selects($sel; $labels): ($sel | length > 0) and ($sel | to_entries | all(. as $e | $labels[$e.key] == $e.value));
def ctr_port($p): [ctr.ports[] | .name, .containerPort] | index($p) != null;'

# The HTTP paths serve answers (serve/http.c).
serve_paths() { grep -oE 'strcmp\(uri, "/[a-z/]*"\)' "$ROOT/serve/http.c" | grep -oE '"[^"]*"' | jq -s .; }

# k8s_crossrefs FILE: every reference between the rendered objects in FILE holds: names,
# labels and selectors, ports, ConfigMap keys, probes, the autoscaler's target, the service
# account, the image. Prints "broken: WHAT" for the first that does not.
k8s_crossrefs() {
	local k=$1 version
	holds() { # holds WHAT JQ [ARGS...]
		local what=$1 expr=$2
		shift 2
		jq -en --slurpfile docs "$k" "$@" "$K8S_JQ $expr" >/dev/null 2>"$TMP/jq.err" ||
			{ echo "broken: $what $(cat "$TMP/jq.err")"; return 1; }
	}
	holds "the Deployment's selector picks its own pods" 'selects(dep.spec.selector.matchLabels; pod.metadata.labels)' || return 1
	holds "the Service selects the Deployment's pods" 'selects(one("Service").spec.selector; pod.metadata.labels)' || return 1
	holds "the Service's targetPort is a port of the container" \
		'[one("Service").spec.ports[].targetPort] | all(ctr_port(.))' || return 1
	holds "the Ingress sends to the Service, on one of its ports" 'one("Service") as $s
		| [one("Ingress").spec.rules[].http.paths[].backend.service]
		| length > 0 and all(.name == $s.metadata.name and ((.port.name // .port.number) as $p | [$s.spec.ports[] | .name, .port] | index($p) != null))' || return 1
	holds "the PodDisruptionBudget selects the pods" 'selects(one("PodDisruptionBudget").spec.selector.matchLabels; pod.metadata.labels)' || return 1
	holds "the NetworkPolicy selects the pods" 'selects(one("NetworkPolicy").spec.podSelector.matchLabels; pod.metadata.labels)' || return 1
	holds "the NetworkPolicy lets in the container's port" \
		'[one("NetworkPolicy").spec.ingress[].ports[].port] | length > 0 and all(ctr_port(.))' || return 1
	# ConfigMaps the pod uses exist, with the keys it takes from them.
	holds "every ConfigMap the pod names (envFrom, env, volumes) exists, with the keys it reads" '
		[objs | select(.kind == "ConfigMap")] as $cms
		| def cm($n): [$cms[] | select(.metadata.name == $n)][0];
		[ctr.envFrom[]?.configMapRef.name] + [pod.spec.volumes[]?.configMap.name // empty]
			+ [ctr.env[]?.valueFrom.configMapKeyRef.name // empty] | length > 0 and all(cm(.) != null)
		and ([ctr.env[]?.valueFrom.configMapKeyRef // empty] | all(. as $r | cm($r.name).data[$r.key] != null))
		and ([pod.spec.volumes[]?.configMap // empty | select(.items)] | all(. as $v | $v.items | all(cm($v.name).data[.key] != null)))' || return 1
	# Probes: on a port of the container, at paths serve answers.
	holds "the probes use a port of the container and paths serve answers" '
		[ctr.readinessProbe, ctr.livenessProbe] | all(. != null and (.httpGet.port as $p | ctr_port($p)) and (.httpGet.path as $x | $paths | index($x) != null))' \
		--argjson paths "$(serve_paths)" || return 1
	holds "the Prometheus annotation's port is the container's" 'pod.metadata.annotations["prometheus.io/port"] | tonumber | ctr_port(.)' || return 1
	# The autoscaler scales this Deployment, which leaves the count to it; CPU utilization
	# needs a CPU request.
	holds "the HorizontalPodAutoscaler targets the Deployment" 'one("HorizontalPodAutoscaler").spec.scaleTargetRef as $t
		| $t.kind == "Deployment" and $t.name == dep.metadata.name and $t.apiVersion == dep.apiVersion' || return 1
	holds "the autoscaler keeps at least 2 pods, and the Deployment sets no replica count" \
		'one("HorizontalPodAutoscaler").spec | .minReplicas >= 2 and .maxReplicas >= .minReplicas and dep.spec.replicas == null' || return 1
	holds "the autoscaler's CPU target has a CPU request to measure against" \
		'([one("HorizontalPodAutoscaler").spec.metrics[] | select(.resource.name == "cpu")] | length == 0) or (ctr.resources.requests.cpu != null)' || return 1
	holds "the pods run as the ServiceAccount, which mounts no token" 'one("ServiceAccount") as $sa
		| pod.spec.serviceAccountName == $sa.metadata.name and $sa.automountServiceAccountToken == false
		and pod.spec.automountServiceAccountToken == false' || return 1
	# The image is pinned to the relay's version.
	version=$("$BIN/serve" --version | awk '{ print $2 }')
	holds "the image is pinned to the tools' version $version, not latest" \
		'ctr.image | (split(":") | last) as $tag | test(":") and $tag == $v' --arg v "$version" || return 1
	# Every object lives in one namespace, the Namespace's.
	holds "every object is in the Namespace" 'one("Namespace").metadata.name as $ns
		| [objs | select(.kind != "Namespace") | .metadata.namespace] | all(. == $ns)' || return 1
}

@test "k8s: kustomization.yaml lists every manifest of deploy/k8s, and only those" {
	need yq yq
	yq -r '.resources[]' "$ROOT/deploy/k8s/kustomization.yaml" | sort >"$TMP/listed"
	for f in "$ROOT"/deploy/k8s/*.yaml; do basename "$f"; done | grep -vx kustomization.yaml | sort | diff "$TMP/listed" -
}

@test "k8s: kubectl kustomize renders deploy/k8s offline, and every cross-reference holds" {
	k=$(k8s_render "$ROOT/deploy/k8s")
	for kind in Namespace ServiceAccount ConfigMap Deployment Service Ingress PodDisruptionBudget NetworkPolicy HorizontalPodAutoscaler; do
		[ "$(jq --arg k "$kind" '[.[] | select(.kind == $k)] | length' "$k")" -eq 1 ] || { echo "want one $kind"; false; }
	done
	# The Certificate is the cert-manager overlay's, not the base's.
	jq -e '[.[] | select(.kind == "Certificate")] | length == 0' "$k"
	k8s_crossrefs "$k"
}

@test "k8s: the cross-reference check fails on each broken reference" {
	need yq yq
	# break FILE YQ-EDIT EXPECTED: deploy/k8s copied, FILE edited, rendered: the check fails, saying EXPECTED.
	break_one() {
		rm -rf "$TMP/broken" && cp -r "$ROOT/deploy/k8s" "$TMP/broken"
		yq -y "$2" "$ROOT/deploy/k8s/$1" >"$TMP/broken/$1"
		cmp -s "$ROOT/deploy/k8s/$1" "$TMP/broken/$1" && { echo "the edit of $1 changed nothing"; return 1; }
		k=$(k8s_render "$TMP/broken") || return 1
		if k8s_crossrefs "$k" >"$TMP/crossrefs.out"; then
			echo "not caught: $1: $2"
			return 1
		fi
		grep -q "broken: $3" "$TMP/crossrefs.out" || { echo "$1: $2: caught as: $(cat "$TMP/crossrefs.out")"; return 1; }
	}
	break_one service.yaml '.spec.selector["app.kubernetes.io/name"] = "relay-typo"' "the Service selects"
	break_one service.yaml '.spec.ports[0].targetPort = "web"' "the Service's targetPort"
	break_one ingress.yaml '.spec.rules[0].http.paths[0].backend.service.port.name = "https"' "the Ingress sends"
	break_one ingress.yaml '.spec.rules[0].http.paths[0].backend.service.name = "relays"' "the Ingress sends"
	break_one pdb.yaml '.spec.selector.matchLabels["app.kubernetes.io/name"] = "other"' "the PodDisruptionBudget"
	break_one deployment.yaml '.spec.template.spec.containers[0].envFrom[0].configMapRef.name = "relay-cfg"' "every ConfigMap"
	break_one deployment.yaml '.spec.template.spec.containers[0].readinessProbe.httpGet.path = "/healthz"' "the probes"
	break_one deployment.yaml '.spec.template.spec.containers[0].livenessProbe.httpGet.port = "metrics"' "the probes"
	break_one deployment.yaml '.spec.template.spec.containers[0].ports[0].name = "web"' "the Service's targetPort"
	break_one deployment.yaml '.spec.template.spec.serviceAccountName = "default"' "the pods run as the ServiceAccount"
	break_one deployment.yaml '.spec.replicas = 3' "the autoscaler keeps"
	break_one hpa.yaml '.spec.scaleTargetRef.name = "relay-v2"' "the HorizontalPodAutoscaler targets"
	break_one serviceaccount.yaml '.automountServiceAccountToken = true' "the pods run as the ServiceAccount"
	break_one kustomization.yaml '.images[0].newTag = "latest"' "the image is pinned"
	break_one networkpolicy.yaml '.spec.ingress[0].ports[0].port = 9090' "the NetworkPolicy lets in"
}

@test "k8s: the manifests agree with the node: variables, port, run directory, user, drain, ingress timeouts" {
	k=$(k8s_render "$ROOT/deploy/k8s")
	obj() { jq -c --arg k "$1" '.[] | select(.kind == $k)' "$k"; }
	obj Deployment >"$TMP/dep"
	pod='.spec.template.spec'
	ctr="$pod.containers[0]"
	# The rolling update: one pod at a time, never more clients dropped than one holds.
	jq -e '.spec.strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 1}}' "$TMP/dep"
	# Readiness is "can serve clients" (/health: up, not draining), liveness the same with
	# more patience; /ready (data flowing) would empty the Service in an exchange outage.
	jq -e "$ctr.readinessProbe.httpGet.path == \"/health\" and $ctr.livenessProbe.httpGet.path == \"/health\"" "$TMP/dep"
	jq -e "($ctr.livenessProbe | .periodSeconds * .failureThreshold) > ($ctr.readinessProbe | .periodSeconds * .failureThreshold)" "$TMP/dep"
	# Graceful drain: preStop waits, then SIGTERM gives serve 10 s: the grace period covers both.
	pre=$(jq -r "$ctr.lifecycle.preStop.exec.command | if .[0] == \"sleep\" then .[1] else empty end" "$TMP/dep")
	[ -n "$pre" ]
	grace=$(jq -r "$pod.terminationGracePeriodSeconds" "$TMP/dep")
	[ "$grace" -ge $((pre + 10)) ]
	jq -e "$ctr.resources.requests.cpu and $ctr.resources.requests.memory and $ctr.resources.limits.memory" "$TMP/dep"
	jq -e "$pod.securityContext.runAsNonRoot == true" "$TMP/dep"
	# The environment: the ConfigMap's keys and the container's variables are exchanged's,
	# or helpers other variables refer to as $(NAME).
	exchanged_vars >"$TMP/vars.json"
	{ obj ConfigMap | jq -r '.data | keys[]'; jq -r "$ctr.env[].name" "$TMP/dep"; } >"$TMP/env"
	refs=$(jq -r "$ctr.env[].value // empty" "$TMP/dep" | grep -oE '\$\([A-Z_]+\)' | tr -d '$()' | sort -u)
	while read -r v; do
		jq -e --arg v "$v" 'index($v) != null' "$TMP/vars.json" >/dev/null || grep -qx "$v" <<<"$refs" ||
			{ echo "exchanged does not read $v"; false; }
	done <"$TMP/env"
	grep -qx NODE_ID "$TMP/env"
	grep -qx ADVERTISED_URL "$TMP/env"
	port=$(jq -r "$ctr.ports[0].containerPort" "$TMP/dep")
	obj ConfigMap | jq -e --arg p "$port" '.data.PORT == $p'
	run_dir=$(obj ConfigMap | jq -r '.data.RUN_DIR')
	jq -e --arg d "$run_dir" "$ctr.volumeMounts | map(.mountPath) | index(\$d) != null" "$TMP/dep"
	ws=$(obj ConfigMap | jq -r '.data.WS_PATH')
	jq -e --arg u ":$port$ws" "$ctr.env[] | select(.name == \"ADVERTISED_URL\") | .value | endswith(\$u)" "$TMP/dep"
	# The pod runs as the image's user.
	uid=$(sed -n 's/.*useradd .*--uid \([0-9]*\).*/\1/p' "$ROOT/deploy/Dockerfile")
	[ -n "$uid" ]
	jq -e --argjson u "$uid" "$pod.securityContext.runAsUser == \$u" "$TMP/dep"
	obj PodDisruptionBudget | jq -e '.spec.maxUnavailable == 1'
	# Long WebSocket timeouts and retries at the ingress controller.
	obj Ingress | jq -e '.metadata.annotations | (.["nginx.ingress.kubernetes.io/proxy-read-timeout"] | tonumber >= 3600)
		and (.["nginx.ingress.kubernetes.io/proxy-send-timeout"] | tonumber >= 3600)
		and (.["nginx.ingress.kubernetes.io/proxy-next-upstream"] | test("http_503"))'
}

@test "k8s: the probes' paths answer in a real serve: readiness holds through an exchange outage, fails once serve stops" {
	k=$(k8s_render "$ROOT/deploy/k8s")
	ready_path=$(jq -r '.[] | select(.kind == "Deployment") | .spec.template.spec.containers[0].readinessProbe.httpGet.path' "$k")
	live_path=$(jq -r '.[] | select(.kind == "Deployment") | .spec.template.spec.containers[0].livenessProbe.httpGet.path' "$k")
	PORT=$(free_port)
	mkfifo "$TMP/in"
	exec 7<>"$TMP/in"
	start serve "$BIN/serve" --port "$PORT" --bind 127.0.0.1 --run-dir "$TMP" --input "$TMP/in" --ready-timeout 1000
	get() { curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$PORT$1"; }
	is() { [ "$(get "$1")" = "$2" ]; }
	wait_until 10 is "$live_path" 200
	# No data yet (the exchange never answered): not receiving, but ready to serve clients.
	is /ready 503
	is "$ready_path" 200
	# Data flows: every probe and /ready answer 200.
	echo '{"type":"trade","exchange":"binance","symbol":"BTC-USDT","ts":1,"local_ts":1,"id":"1","price":1,"amount":1,"side":"buy"}' >&7
	wait_until 5 is /ready 200
	is "$ready_path" 200
	# The exchange goes quiet: /ready fails, the pod stays ready and alive.
	wait_until 5 is /ready 503
	is "$ready_path" 200
	is "$live_path" 200
	# SIGTERM (the pod is stopping): serve closes its listening socket as it starts to drain,
	# so readiness fails at once.
	kill -TERM "$(pid_of serve)"
	not_ready() { ! is "$ready_path" 200; }
	wait_until 2 not_ready
	exec 7>&-
}

@test "k8s: the NetworkPolicy admits the ingress controller and Prometheus, and lets out DNS, Kafka, ZooKeeper and every exchange's port" {
	k=$(k8s_render "$ROOT/deploy/k8s")
	jq -c '.[] | select(.kind == "NetworkPolicy")' "$k" >"$TMP/np"
	jq -e '.spec.policyTypes | sort == ["Egress", "Ingress"]' "$TMP/np"
	port=$(jq -r '.[] | select(.kind == "Deployment") | .spec.template.spec.containers[0].ports[0].containerPort' "$k")
	# In: only the relay's port, from the ingress controller, Prometheus and the other nodes.
	jq -e --argjson p "$port" '[.spec.ingress[].ports[].port] | all(. == $p)' "$TMP/np"
	jq -e '[.spec.ingress[].from[] | .podSelector.matchLabels["app.kubernetes.io/name"]] | sort == ["ingress-nginx", "prometheus", "relay"]' "$TMP/np"
	jq -e '[.spec.ingress[].from[] | select(.ipBlock)] | length == 0' "$TMP/np"
	# Out: DNS over UDP and TCP.
	jq -e '[.spec.egress[].ports[] | select(.port == 53) | .protocol] | sort == ["TCP", "UDP"]' "$TMP/np"
	# The exchanges, on public addresses only: every port of every endpoint the exchange
	# files name (wss:// and https://, 443 unless the URL says otherwise).
	jq -c '[.spec.egress[] | select(any(.to[]; .ipBlock.cidr == "0.0.0.0/0"))]' "$TMP/np" >"$TMP/public"
	jq -e 'length == 1 and (.[0].to[0].ipBlock.except | index("10.0.0.0/8") != null and index("172.16.0.0/12") != null and index("192.168.0.0/16") != null)' "$TMP/public"
	grep -hoE '"(wss|https)://[^"/]+' "$ROOT"/lib/exchanges/*.c | tr -d '"' | sort -u >"$TMP/endpoints"
	[ "$(wc -l <"$TMP/endpoints")" -ge 9 ]
	while read -r url; do
		hostport=${url#*://}
		p=443
		[[ "$hostport" == *:* ]] && p=${hostport##*:}
		jq -e --argjson p "$p" '.[0].ports | map(.port) | index($p) != null' "$TMP/public" >/dev/null ||
			{ echo "no egress to $url (port $p)"; false; }
	done <"$TMP/endpoints"
	grep -qx 'wss://stream.binance.com:9443' "$TMP/endpoints"
	grep -qx 'wss://ws.okx.com:8443' "$TMP/endpoints"
	# Kafka and ZooKeeper: the namespaces and ports of the addresses the nodes are given.
	for v in KAFKA_BOOTSTRAP_SERVERS ZOOKEEPER_CONNECT; do
		addr=$(jq -r --arg v "$v" '.[] | select(.kind == "ConfigMap") | .data[$v]' "$k")
		host=${addr%:*} p=${addr##*:}
		ns=$(cut -d. -f2 <<<"$host")
		[ "$host" = "$(cut -d. -f1 <<<"$host").$ns.svc" ] || [[ "$host" == *."$ns".svc.cluster.local ]]
		jq -e --arg ns "$ns" --argjson p "$p" \
			'[.spec.egress[] | select(any(.to[]; .namespaceSelector.matchLabels["kubernetes.io/metadata.name"] == $ns)) | .ports[].port] | index($p) != null' \
			"$TMP/np" >/dev/null || { echo "no egress to $addr"; false; }
	done
	# Followers relay the leader's serve in direct mode: pod to pod on the relay's port.
	jq -e --argjson p "$port" '[.spec.egress[] | select(any(.to[]; .podSelector.matchLabels["app.kubernetes.io/name"] == "relay")) | .ports[].port] == [$p]' "$TMP/np"
}

@test "k8s: the cert-manager overlay renders the same objects plus a Certificate for the Ingress's secret and hosts" {
	k=$(k8s_render "$ROOT/deploy/k8s-cert-manager")
	k8s_crossrefs "$k"
	jq -c '.[] | select(.kind == "Certificate")' "$k" >"$TMP/cert"
	[ "$(wc -l <"$TMP/cert")" -eq 1 ]
	jq -e '.apiVersion == "cert-manager.io/v1" and (.spec.issuerRef.kind | IN("ClusterIssuer", "Issuer")) and .spec.issuerRef.name' "$TMP/cert"
	ingress=$(jq -c '.[] | select(.kind == "Ingress")' "$k")
	jq -e --argjson i "$ingress" '.spec.secretName == $i.spec.tls[0].secretName' "$TMP/cert"
	jq -e --argjson i "$ingress" '.metadata.namespace == $i.metadata.namespace' "$TMP/cert"
	# Every host the Ingress serves over TLS is in the certificate.
	jq -e --argjson i "$ingress" '. as $c | ($i.spec.tls[0].hosts + [$i.spec.rules[].host]) | unique | all(. as $h | $c.spec.dnsNames | index($h) != null)' "$TMP/cert"
	# Besides the Certificate, the overlay renders exactly the base.
	jq -c 'map(select(.kind != "Certificate"))' "$k" >"$TMP/overlay"
	k=$(k8s_render "$ROOT/deploy/k8s")
	diff <(jq -S . "$TMP/overlay") <(jq -S . "$k")
}
