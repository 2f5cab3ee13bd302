/* bybit-linear.c: Bybit v5 linear (USDT and USDC perpetuals and dated futures): Bybit's
 * protocol (bybit.c) on /v5/public/linear, with allLiquidation topics, no limit on topics
 * per request but 21 000 characters of topics per connection, acks with an empty ret_msg,
 * and the pong and acks carrying an empty req_id when the request had none. */

#include "bybit.h"

static const char *const extra[] = { "allLiquidation", NULL };

static const struct bybit_rules linear = {
	.max_chars = 21000,
	.ack_text = "",
	.req_id_default = "",
	.extra = extra,
	.dash = 1,
};

const struct dialect dl_bybit_linear = {
	.name = "bybit-linear",
	.path = "/v5/public/linear",
	.idle_ms = 600000,
	.retime_keys = bybit_retime_keys,
	.reid_keys = bybit_reid_keys,
	.frame = bybit_frame,
	.open = bybit_open,
	.request = bybit_request,
	.rules = &linear,
};
