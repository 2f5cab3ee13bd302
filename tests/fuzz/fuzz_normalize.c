/* Fuzz harness for every exchange's reader: the first byte picks the exchange, the rest is
 * the frame. Built with libFuzzer by `make fuzz`, and as a plain replay program
 * (bin/fuzz-normalize FILE...) that the test suite runs on the kept corpus and crashers. */
#include "exchanges/norm.h"
#include "exchanges/xch.h"
#include "json.h"
#include "jw.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct jw w;
static struct norm n;
static struct js_doc d;
static int ready, runs;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int count = 0;
	while (xch_all[count])
		count++;
	if (!ready || ++runs % 4096 == 0) {
		/* Book state lives across frames, as in convert; start afresh now and then so a
		 * long run does not collect unbounded symbols. */
		if (ready) {
			norm_free(&n);
			jw_free(&w);
		}
		jw_init(&w, 16 << 20);
		norm_init(&n, &w);
		n.book_depth = 5;
		if (!ready)
			js_init(&d, 0);
		ready = 1;
	}
	if (size < 1)
		return 0;
	n.x = xch_all[data[0] % count];
	n.local_ts = 1732222222000000;
	if (js_parse(&d, (const char *)data + 1, size - 1) != JS_OK)
		return 0;
	norm_frame_begin(&n);
	if (n.x->normalize(&n, &d, 0))
		norm_frame_rollback(&n);
	/* Whatever was written must be whole JSON lines. */
	if (w.len) {
		if (w.buf[w.len - 1] != '\n')
			abort();
		w.len = 0;
	}
	return 0;
}
