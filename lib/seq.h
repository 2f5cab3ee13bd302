/* seq.h: stream positions, the "seq":N that ends every line the relay sends (design.md). */
#ifndef SEQ_H
#define SEQ_H

#include <stddef.h>
#include <stdint.h>

/* Room for the text `,"seq":N}` with any position. */
#define SEQ_SUFFIX_MAX 32
/* Positions stay below 2^53, so a JavaScript number holds them exactly. */
#define SEQ_MAX ((int64_t)1 << 53)

/* The position at the end of LINE (`...,"seq":N}`), or -1 when it has none. */
int64_t seq_of_line(const char *line, size_t len);
/* LINE's length without its position: up to, not including, the closing brace it then needs
 * again (LEN - 1 for a line without a position, whose last byte is the brace). -1 when LINE
 * does not end with '}'. */
long seq_body_len(const char *line, size_t len);
/* `,"seq":N}` into OUT (SEQ_SUFFIX_MAX bytes); returns its length. */
size_t seq_suffix(char *out, int64_t seq);

#endif
