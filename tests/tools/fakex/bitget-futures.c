/* bitget-futures.c: Bitget v2 USDT-margined futures: the public socket of spot (bitget.c),
 * every arg naming instType "USDT-FUTURES"; the same channels, books and checksums. */

#include "bitget.h"

static const struct bitget_rules futures = { "USDT-FUTURES" };

/* Bitget says 10 messages a second: we allow twice that. */
const struct dialect dl_bitget_futures = {
	.name = "bitget-futures",
	.path = "/v2/ws/public",
	.idle_ms = 120000,
	.msg_limit = 20,
	.conn_size = sizeof(struct bitget_conn),
	.retime_keys = bitget_retime_keys,
	.reid_keys = bitget_reid_keys,
	.checksum_key = "\"checksum\":",
	.frame = bitget_frame,
	.open = bitget_open,
	.request = bitget_request,
	.idle_since = bitget_idle_since,
	.rules = &futures,
};
