/* opt.h: checked number options for the tools' command lines, and messages naming them. */
#ifndef OPT_H
#define OPT_H

#include <getopt.h>
#include <stddef.h>

/* Parses S as a whole decimal number within [MIN, MAX] into *OUT. Returns 0, or -1 (and
 * leaves *OUT alone) with ERRBUF saying why and what is allowed, such as
 * "99999 is out of range (0-65535)". */
int opt_long(const char *s, long long min, long long max, long long *out, char *errbuf,
	     size_t errlen);

/* The name of option C as a user writes it, for messages: "--port" from LONGOPTS, or "-p"
 * when C has no long form. Returns BUF. */
const char *opt_name(const struct option *longopts, int c, char *buf, size_t size);

#endif
