#!/usr/bin/env bats
# No trade lost, none twice: three supervised nodes with real ZooKeeper (and librdkafka's
# mock cluster in Kafka mode), real nginx in front of two of them, the fake exchange live
# with consecutive trade ids, and a resuming client on every node and one through nginx.
# One run goes through every failure in turn — SIGTERM of the leader, kill -9 of the
# leader's whole node, the leader frozen past its session (a zombie), Kafka down and back
# (Kafka mode), a client away for 5 s that comes back through nginx to another node, and
# serve killed under its clients — then counts, per client, the trades it lost and the
# ones it got twice. bench/ha runs the same in both modes at both rates.

load helpers
load nolost

setup() { setup_tmp; }
teardown() {
	nolost_wake
	teardown_tmp
}

@test "no trade lost, none twice, through every failure: direct mode, 250 trades/s" {
	run_failures direct 250
	[ "$LOST" = 0 ]
	[ "$DUPS" = 0 ]
}

@test "no trade lost, none twice, through every failure: Kafka mode, 2000 trades/s" {
	run_failures kafka 2000
	[ "$LOST" = 0 ]
	[ "$DUPS" = 0 ]
}
