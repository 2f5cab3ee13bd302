/* Fuzz harness for the line reader and the JSON tokenizer: the input is cut into reads at
 * sizes taken from its first bytes, and every line is tokenized. */
#include "json.h"
#include "ndj.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ndj r;
	struct js_doc d;
	const char *line;
	size_t len, off = 0, step = size ? (size_t)data[0] % 64 + 1 : 1;
	if (ndj_init(&r, -1, 256))
		return 0;
	js_init(&d, 1000);
	for (;;) {
		size_t n = off < size ? (size - off < step ? size - off : step) : 0;
		ndj_feed(&r, (const char *)data + off, n);
		off += n;
		enum ndj_status st;
		while ((st = ndj_next(&r, &line, &len)) == NDJ_LINE || st == NDJ_TOOLONG) {
			if (st == NDJ_LINE) {
				if (len > 256)
					abort(); /* the limit holds */
				js_parse(&d, line, len);
			}
		}
		if (st == NDJ_EOF || n == 0)
			break;
	}
	js_free(&d);
	ndj_free(&r);
	return 0;
}
