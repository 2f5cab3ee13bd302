/* exitcode.h: the one exit-code scheme shared by every tool. */
#ifndef EXITCODE_H
#define EXITCODE_H

#define EXIT_OK      0 /* success */
#define EXIT_RUNTIME 1 /* runtime failure: an fd, a socket, a library call failed */
#define EXIT_USAGE   2 /* usage or configuration error: bad option, bad value */

/* The text every --help ends with. */
#define EXITCODE_HELP \
	"Exit status: 0 ok, 1 runtime failure, 2 usage or configuration error.\n"

#endif
