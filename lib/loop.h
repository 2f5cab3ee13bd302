/* loop.h: plain file descriptors (pipes, stdin, stdout, sockets) in a libwebsockets loop. */
#ifndef LOOP_H
#define LOOP_H

#include <libwebsockets.h>

/* Adopts FD into VH's loop as a raw file handled by the vhost's protocol named PROTOCOL;
 * OPAQUE is what lws_get_opaque_user_data() gives back in its callbacks. NULL on failure. */
struct lws *loop_adopt(struct lws_vhost *vh, int fd, const char *protocol, void *opaque);

#endif
