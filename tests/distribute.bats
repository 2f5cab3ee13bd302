#!/usr/bin/env bats
# distribute alone: its output to a slow reader, the stream positions it gives what it
# publishes, the trades it never passes on twice, and what a standby publishes when promoted.

load helpers

setup() { setup_tmp; }
teardown() { teardown_tmp; }

# trade ID [SYMBOL]: a normalized trade line, stamped with the time now.
trade() {
	printf '{"type":"trade","exchange":"binance","symbol":"%s","ts":1,"local_ts":%s,"id":"%s","price":1,"amount":1,"side":"buy"}\n' \
		"${2:-BTC-USDT}" "${EPOCHREALTIME/./}" "$1"
}
ticker() {
	printf '{"type":"ticker","exchange":"binance","symbol":"%s","local_ts":%s,"last":%s}\n' "$1" "${EPOCHREALTIME/./}" "$2"
}
dmetric() { awk -v k="$1" '$1 == k { print $2 }' "$TMP/run/distribute.prom" 2>/dev/null; }
dmetric_eq() { [ "$(dmetric "$1")" = "$2" ]; }

# start_dist ROLE [ARGS...]: distribute with its stdin on the FIFO $TMP/in (fd 7 writes it).
start_dist() {
	local role=$1
	shift
	mkdir -p "$TMP/run"
	echo "$role" >"$TMP/run/role"
	echo 0 >"$TMP/run/epoch"
	mkfifo "$TMP/in"
	exec 7<>"$TMP/in"
	start_in dist "$TMP/in" "$BIN/distribute" --run-dir "$TMP/run" --node-id me "$@"
	wait_until 10 test -s "$TMP/run/distribute.prom"
}

# The last local_ts in FILE is later than T (µs).
fresh_after() {
	grep -o '"local_ts":[0-9]*' "$1" 2>/dev/null | tail -1 | cut -d: -f2 | awk -v t="$2" '$1 > t { ok = 1 } END { exit !ok }'
}

@test "after its queue overflowed, distribute writes all it queued to a slow reader that is back, without new input" {
	mkdir -p "$TMP/run"
	mkfifo "$TMP/out.fifo"
	# stdout as the supervisor gives it, a FIFO opened read-write, read 4 KiB at a time: the
	# first writable moment after the stall cannot take the whole queue.
	start reader bash -c "while dd bs=4096 count=1 status=none; do :; done <'$TMP/out.fifo'"
	reader=$LAST_PID
	wait_until 5 kill -0 -- "-$reader"
	kill -STOP -- "-$reader"
	mkfifo "$TMP/in.fifo"
	# shellcheck disable=SC2016 # expanded by the writer's shell
	start writer bash -c 'exec >"$1"; i=0; while :; do i=$((i + 1)); printf "{\"type\":\"trade\",\"exchange\":\"binance\",\"symbol\":\"BTC-USDT\",\"local_ts\":%s,\"id\":\"%s\",\"price\":1,\"amount\":1,\"side\":\"buy\"}\n" "${EPOCHREALTIME/./}" "$i"; done' writer "$TMP/in.fifo"
	setsid "$BIN/distribute" --run-dir "$TMP/run" --buffer 65536 <"$TMP/in.fifo" 1<>"$TMP/out.fifo" 2>"$TMP/dist.err" 3>&- &
	echo "$! dist" >>"$PIDS_FILE"
	wait_until 20 bash -c "[ \$(awk '/^exchange_distribute_dropped_total/ { print \$2 }' '$TMP/run/distribute.prom' 2>/dev/null || echo 0) -gt 100 ]"
	# Input stops too: from now on only the reader's pace moves the queue, so whatever distribute
	# queued must reach it without the help of a new line.
	kill -STOP -- "-$(pid_of writer)"
	sleep 1.5 # the metrics file is a second behind
	out=$(dmetric exchange_distribute_lines_out_total)
	t0=$(date +%s%6N)
	kill -CONT -- "-$reader"
	wait_until 20 bash -c "[ \$(wc -l <'$TMP/reader.out') -ge $out ]"
	echo "queue of $out lines written in $(( ($(date +%s%6N) - t0) / 1000 )) ms"
	# And when input comes back, so do fresh lines.
	t1=$(date +%s%6N)
	kill -CONT -- "-$(pid_of writer)"
	wait_until 20 fresh_after "$TMP/reader.out" "$t1"
}
