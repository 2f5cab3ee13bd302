#!/usr/bin/env bats
# Stream positions and resume at serve: every line ends with its position, ?since= and a
# subscribe's since replay what a client missed from the ring, a resume beyond the ring is
# told with one gap line, bad positions get an error and live data, and the journal keeps
# the ring across a restart of serve.

load helpers

setup() { setup_tmp; }
teardown() {
	exec 8>&- 2>/dev/null
	teardown_tmp
}

# numbered FIRST N [SYMBOL]: N trade lines with positions FIRST.. (ids equal to positions).
numbered() {
	local ts
	ts=$(date +%s%6N)
	awk -v first="$1" -v n="$2" -v sym="${3:-BTC-USDT}" -v ts="$ts" 'BEGIN {
		for (i = first; i < first + n; i++)
			printf "{\"type\":\"trade\",\"exchange\":\"binance\",\"symbol\":\"%s\",\"ts\":1,\"local_ts\":%s,\"id\":\"%d\",\"price\":1.5,\"amount\":2,\"side\":\"buy\",\"seq\":%d}\n", sym, ts, i, i
	}'
}
positions() { jq -r 'select(.type == "trade") | .seq' "$1" | tr '\n' ' '; }
# seq_range A B: "A A+1 ... B "
seq_range() { seq "$1" "$2" | tr '\n' ' '; }
position_is() { [ "$(serve_metric exchange_serve_position)" = "$1" ]; }
replayed_is() { [ "$(serve_metric exchange_serve_journal_replayed_lines)" = "$1" ]; }

@test "every line gets its position: an unnumbered input is numbered by serve, consecutively from the clock" {
	t0=$(date +%s%6N)
	start_serve
	start c "$BIN/wsclient" "$WS"
	wait_until 10 serve_clients_eq 1
	for i in 1 2 3; do line trade binance BTC-USDT "$i"; done | feed
	wait_until 10 at_least 3 "$TMP/c.out" '"type":"trade"'
	jq -e -s 'all(.[]; (keys_unsorted | last) == "seq")' "$TMP/c.out"
	mapfile -t p < <(jq -r .seq "$TMP/c.out")
	[ "${p[0]}" -ge "$t0" ]
	[ "${p[1]}" = $((p[0] + 1)) ] && [ "${p[2]}" = $((p[0] + 2)) ]
}

@test "a numbered input keeps its positions; a notice without one repeats the last position" {
	start_serve
	start c "$BIN/wsclient" "$WS"
	wait_until 10 serve_clients_eq 1
	{
		numbered 500 2
		printf '{"type":"status","exchange":"relay","local_ts":1,"event":"mode","detail":"direct"}\n'
		numbered 502 1
	} | feed
	wait_until 10 at_least 4 "$TMP/c.out" '"seq"'
	[ "$(jq -r '"\(.type)=\(.seq)"' "$TMP/c.out" | tr '\n' ' ')" = "trade=500 trade=501 status=501 trade=502 " ]
}

@test "a line taken in already is dropped, also when it has the newest position; other lines at that position are not" {
	start_serve
	start c "$BIN/wsclient" "$WS"
	wait_until 10 serve_clients_eq 1
	numbered 799 4 >"$TMP/l"
	{
		sed -n 2,3p "$TMP/l"
		printf '{"type":"status","exchange":"binance","local_ts":1,"event":"connected","seq":801}\n'
		sed -n 3p "$TMP/l" # the trade again, byte for byte, as a restarted serve reads it from the pipe
		sed -n 1p "$TMP/l" # below the newest
		sed -n 4p "$TMP/l"
	} | feed
	wait_until 10 at_least 4 "$TMP/c.out" '"seq"'
	sleep 0.3
	[ "$(jq -r '"\(.type)=\(.seq)"' "$TMP/c.out" | tr '\n' ' ')" = "trade=800 trade=801 status=801 trade=802 " ]
	[ "$(serve_metric exchange_serve_positions_back_total)" = 2 ]
}

@test "?since=N replays every matching line after N from the ring, then live data, nothing twice" {
	start_serve
	{ numbered 1000 50 BTC-USDT; numbered 1050 50 ETH-USDT; } | feed
	wait_until 10 position_is 1099
	start all "$BIN/wsclient" "$WS?since=1019"
	start eth "$BIN/wsclient" "$WS?types=trade&symbols=ETH-USDT&since=1079"
	wait_until 10 at_least 80 "$TMP/all.out" '"type":"trade"'
	wait_until 10 at_least 20 "$TMP/eth.out" '"type":"trade"'
	numbered 1100 5 ETH-USDT | feed
	wait_until 10 at_least 85 "$TMP/all.out" '"type":"trade"'
	wait_until 10 at_least 25 "$TMP/eth.out" '"type":"trade"'
	sleep 0.3
	[ "$(positions "$TMP/all.out")" = "$(seq_range 1020 1104)" ]
	[ "$(positions "$TMP/eth.out")" = "$(seq_range 1080 1104)" ]
	# no cache replay before a resume: the ring brings all it needs
	[ "$(jq -r .type "$TMP/all.out" | sort -u)" = trade ]
	[ "$(serve_metric exchange_serve_resumes_total)" = 2 ]
}

@test "a subscribe with since resumes the same way" {
	start_serve
	numbered 2000 30 | feed
	wait_until 10 position_is 2029
	start c "$BIN/wsclient" --send '{"op":"subscribe","types":["trade"],"since":2024}' "$WS?types=ticker"
	wait_until 10 at_least 5 "$TMP/c.out" '"type":"trade"'
	sleep 0.3
	grep -q '"type":"subscribed"' "$TMP/c.out"
	[ "$(positions "$TMP/c.out")" = "$(seq_range 2025 2029)" ]
}

@test "a resume from before what the ring holds: one gap line with the range, the state of every stream, then all the ring holds" {
	start_serve --ring 64
	{
		printf '{"type":"ticker","exchange":"binance","symbol":"SOL-USDT","local_ts":1,"last":7,"seq":3000}\n'
		numbered 3001 199
	} | feed
	wait_until 10 position_is 3199
	start c "$BIN/wsclient" "$WS?since=3010"
	wait_until 10 at_least 64 "$TMP/c.out" '"type":"trade"'
	sleep 0.3
	[ "$(count "$TMP/c.out" '"event":"gap"')" = 1 ]
	gap=$(grep '"event":"gap"' "$TMP/c.out")
	[ "$(jq -r '"\(.from) \(.to)"' <<<"$gap")" = "3011 3136" ]
	# the gap line first, then the ticker the ring let go of, then the 64 lines it holds
	[ "$(head -1 "$TMP/c.out" | jq -r .event)" = gap ]
	[ "$(sed -n 2p "$TMP/c.out" | jq -r '"\(.type) \(.seq)"')" = "ticker 3000" ]
	[ "$(positions "$TMP/c.out")" = "$(seq_range 3136 3199)" ]
	[ "$(serve_metric exchange_serve_resume_gaps_total)" = 1 ]
}

@test "bad positions get an error line naming the value, and live data from now" {
	start_serve
	numbered 4000 10 | feed
	wait_until 10 position_is 4009
	for q in 'since=abc' 'since=-5' 'since=99999999999999999999' "since=$((2 ** 52 + 5))"; do
		name=c${#q}
		start "$name" "$BIN/wsclient" "$WS?$q"
		wait_until 10 grep -q '"type":"error"' "$TMP/$name.out"
		grep '"type":"error"' "$TMP/$name.out" | grep -q 'since'
	done
	start s "$BIN/wsclient" --send '{"op":"subscribe","since":"x"}' "$WS"
	wait_until 10 grep -q '"type":"error".*since' "$TMP/s.out"
	# every one of them gets what comes next, and none the past
	numbered 4010 3 | feed
	for f in "$TMP"/c*.out "$TMP/s.out"; do
		wait_until 10 at_least 3 "$f" '"type":"trade"'
		[ "$(positions "$f")" = "4010 4011 4012 " ]
	done
	[ "$(serve_metric exchange_serve_resume_errors_total)" = 5 ]
	grep -q "ahead of the stream" "$TMP/c22.out"
}

@test "a resume from a position the ring has not reached yet waits for it: only later lines come" {
	start_serve
	numbered 5000 10 | feed
	wait_until 10 position_is 5009
	start c "$BIN/wsclient" "$WS?since=5014"
	wait_until 10 serve_clients_eq 1
	numbered 5010 10 | feed
	wait_until 10 at_least 5 "$TMP/c.out" '"type":"trade"'
	sleep 0.3
	[ "$(positions "$TMP/c.out")" = "$(seq_range 5015 5019)" ]
}

@test "a position not reached within 5 s is another stream's: the client is told, then gets the latest state and live data" {
	start_serve
	numbered 5000 10 | feed
	line ticker binance BTC-USDT 7 | feed
	wait_until 10 position_is 5009
	start c "$BIN/wsclient" "$WS?since=900000"
	wait_until 10 serve_clients_eq 1
	wait_until 10 at_least 1 "$TMP/c.out" '"type":"error"'
	grep -q '"error":"since 900000 was not reached within 5 s (newest position 5009): not a position of this node.s stream; live data from now"' "$TMP/c.out"
	wait_until 5 at_least 1 "$TMP/c.out" '"type":"ticker"'
	numbered 5010 3 | feed
	wait_until 10 at_least 3 "$TMP/c.out" '"type":"trade"'
	[ "$(positions "$TMP/c.out")" = "5010 5011 5012 " ]
	[ "$(serve_metric exchange_serve_resume_errors_total)" = 1 ]
}

@test "the journal: a serve that restarts (even kill -9) has its lines again, and a client resumes across it" {
	mkdir -p "$TMP/run"
	start_serve --run-dir "$TMP/run"
	start c "$BIN/wsclient" --reconnect --stats "$TMP/c.json" "$WS?types=trade"
	wait_until 10 serve_clients_eq 1
	numbered 6000 40 | feed
	wait_until 10 at_least 40 "$TMP/c.out" '"type":"trade"'
	# The client stops reading; serve takes 40 more lines (into the ring and the journal) and dies.
	kill -STOP "$(pid_of c)"
	numbered 6040 40 | feed
	wait_until 10 position_is 6079
	kill -9 "$(pid_of serve)"
	kill -CONT "$(pid_of c)"
	start serve2 "$BIN/serve" --port "$PORT" --bind 127.0.0.1 --input "$TMP/serve.in" --run-dir "$TMP/run"
	wait_until 10 curl -fs "http://127.0.0.1:$PORT/health" -o /dev/null
	wait_until 5 replayed_is 80
	numbered 6080 20 | feed
	wait_until 15 at_least 100 "$TMP/c.out" '"type":"trade"'
	sleep 0.5
	# every trade once, in order, whatever the client had read when serve died
	[ "$(positions "$TMP/c.out")" = "$(seq_range 6000 6099)" ]
	kill "$(pid_of c)"
	wait_until 5 test -s "$TMP/c.json"
	jq -e '.resumes >= 1 and .gaps == 0 and .seq_repeats == 0' "$TMP/c.json"
}

# journal_positions: the positions of the whole lines of serve's journal, one a line.
journal_positions() { grep -o '"seq":[0-9]*}$' "$TMP/run/serve.journal" | tr -dc '0-9\n'; }

@test "kill -9 of serve while it takes a fast feed loses no line: what its journal lacks stays in the pipe for the next serve" {
	mkdir -p "$TMP/run"
	start_serve --run-dir "$TMP/run"
	# 200000 lines in 400 writes 10 ms apart: serve is at work on them whenever it dies.
	numbered 100000 200000 | split -l 500 - "$TMP/part."
	(for f in "$TMP"/part.*; do timeout 20 cat "$f" >&8 || exit 1; sleep 0.01; done) &
	feeder=$!
	kills=0
	while kill -0 "$feeder" 2>/dev/null && [ "$kills" -lt 15 ]; do
		sleep 0.0$((RANDOM % 5 + 3))
		kill -9 "$(pid_of serve)"
		kills=$((kills + 1))
		start serve "$BIN/serve" --port "$PORT" --bind 127.0.0.1 --input "$TMP/serve.in" --run-dir "$TMP/run"
		wait_until 10 curl -fs "http://127.0.0.1:$PORT/health" -o /dev/null
	done
	wait "$feeder"
	wait_until 20 position_is 299999
	journal_positions >"$TMP/got"
	echo "# $kills kills of serve; the journal has $(wc -l <"$TMP/got") of 200000 lines, $(sort -u "$TMP/got" | wc -l) distinct" >&3
	[ "$kills" -ge 5 ]
	seq 100000 299999 | cmp - "$TMP/got"
}

# cpu_ticks PID: the CPU time PID has used, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

@test "part of a line in the pipe is left there until the rest comes, without spinning on it" {
	mkdir -p "$TMP/run"
	start_serve --run-dir "$TMP/run"
	start c "$BIN/wsclient" "$WS"
	wait_until 10 serve_clients_eq 1
	numbered 900 2 >"$TMP/l"
	{ sed -n 1p "$TMP/l"; head -c 40 < <(sed -n 2p "$TMP/l"); } | feed
	wait_until 10 at_least 1 "$TMP/c.out" '"seq":900'
	t0=$(cpu_ticks "$(pid_of serve)")
	sleep 2
	t1=$(cpu_ticks "$(pid_of serve)")
	echo "serve used $((t1 - t0)) ticks in 2 s with part of a line waiting"
	[ $((t1 - t0)) -lt 50 ]
	tail -c +41 < <(sed -n 2p "$TMP/l") | feed
	wait_until 10 at_least 1 "$TMP/c.out" '"seq":901'
	[ "$(positions "$TMP/c.out")" = "900 901 " ]
}

@test "a cut by a crash in the journal's last line is left out, and the journal stays readable" {
	mkdir -p "$TMP/run"
	numbered 7000 5 >"$TMP/run/serve.journal"
	printf '{"type":"trade","exchange":"binance","sym' >>"$TMP/run/serve.journal"
	start_serve --run-dir "$TMP/run"
	wait_until 5 replayed_is 5
	start c "$BIN/wsclient" "$WS?since=6999"
	wait_until 10 at_least 5 "$TMP/c.out" '"type":"trade"'
	numbered 7005 1 | feed
	wait_until 10 at_least 6 "$TMP/c.out" '"type":"trade"'
	[ "$(positions "$TMP/c.out")" = "$(seq_range 7000 7005)" ]
	jq -e -s 'length == 6' "$TMP/run/serve.journal"
}

@test "the relay gate: a follower's relay that stops taking lines holds the other clients back, until it is --relay-lag behind" {
	start_serve --relay-lag 100000 --relay-wait 600000 --max-backlog 200000
	start relay "$BIN/wsclient" --no-read --stats "$TMP/relay.json" "$WS?relay=1"
	start c "$BIN/wsclient" "$WS?types=trade"
	wait_until 10 serve_clients_eq 2
	# 9 MB: more than the kernel's socket buffers between serve and the relay hold
	numbered 10000 60000 | feed
	wait_until 10 position_is 69999
	sleep 1
	# the relay's socket is full long before 60000 lines: the client got as far as it did
	held=$(count "$TMP/c.out" '"type":"trade"')
	echo "the client got $held of 60000 while the relay took nothing"
	[ "$held" -lt 60000 ]
	[ "$(serve_metric exchange_serve_relay_gate_lines)" -gt 0 ]
	# the relay reads again: everyone gets everything
	kill -USR1 "$(pid_of relay)"
	wait_until 20 at_least 60000 "$TMP/c.out" '"type":"trade"'
	[ "$(positions "$TMP/c.out")" = "$(seq_range 10000 69999)" ]
}

# More lines than the kernel's socket buffers between serve and a relay that reads nothing
# can hold (a few MB on loopback), so the relay ends up far behind.
@test "the relay gate: a relay more than --relay-lag behind holds nobody back (counted, logged)" {
	start_serve --relay-lag 500 --relay-wait 600000 --max-backlog 100000
	start relay "$BIN/wsclient" --no-read --rcvbuf 4096 "$WS?relay=1"
	start c "$BIN/wsclient" "$WS?types=trade"
	wait_until 10 serve_clients_eq 2
	numbered 40000 60000 | feed
	wait_until 20 at_least 60000 "$TMP/c.out" '"type":"trade"'
	[ "$(serve_metric exchange_serve_relays_out_of_step_total)" -ge 1 ]
	grep -q "a follower's relay fell behind: clients no longer wait for it\".* reason=lag" "$TMP/serve.err"
}

@test "the relay gate: a relay that takes nothing for --relay-wait holds nobody back, and rejoins when it reads again" {
	start_serve --relay-lag 1000000 --relay-wait 500 --max-backlog 100000
	start relay "$BIN/wsclient" --no-read --stats "$TMP/relay.json" "$WS?relay=1"
	start c "$BIN/wsclient" "$WS?types=trade"
	wait_until 10 serve_clients_eq 2
	numbered 40000 60000 | feed
	wait_until 20 at_least 60000 "$TMP/c.out" '"type":"trade"'
	[ "$(serve_metric exchange_serve_relays_out_of_step_total)" -ge 1 ]
	grep -q "a follower's relay fell behind: clients no longer wait for it\".* reason=stalled" "$TMP/serve.err"
	kill -USR1 "$(pid_of relay)"
	wait_until 10 grep -q "a follower's relay caught up: clients wait for it again\".* reason=moving" "$TMP/serve.err"
}

@test "a resume storm: clients far behind share a slice of each turn of the loop; each gets all it asked for, and a client that is caught up misses nothing meanwhile" {
	start_serve
	numbered 1 20000 | feed
	wait_until 10 position_is 20000
	start live "$BIN/wsclient" "$WS?types=trade"
	wait_until 10 serve_clients_eq 1
	start storm "$BIN/wsload" -n 100 --count 20000 --duration 60000 --stats "$TMP/storm.json" "$WS?since=0"
	numbered 20001 500 | feed
	wait_until 60 bash -c "! kill -0 $LAST_PID 2>/dev/null"
	[ "$(jq -r .per_client_min "$TMP/storm.json")" -ge 20000 ]
	wait_until 10 at_least 500 "$TMP/live.out" '"type":"trade"'
	[ "$(positions "$TMP/live.out")" = "$(seq_range 20001 20500)" ]
	# the storm was spread over turns of the loop: it did not take whole turns to itself
	[ "$(serve_metric exchange_serve_catchup_waits_total)" -gt 0 ]
}
