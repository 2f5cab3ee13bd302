/* opt.h: checked number options for the tools' command lines. */
#ifndef OPT_H
#define OPT_H

/* Parses S as a whole decimal number within [MIN, MAX] into *OUT.
 * Returns 0, or -1 (and leaves *OUT alone) when S is not such a number. */
int opt_long(const char *s, long long min, long long max, long long *out);

#endif
