/* loop.h: plain file descriptors (pipes, stdin, stdout, sockets) in a libwebsockets loop. */
#ifndef LOOP_H
#define LOOP_H

#include <libwebsockets.h>

/* Adopts FD into VH's loop as a raw file handled by the vhost's protocol named PROTOCOL;
 * OPAQUE is what lws_get_opaque_user_data() gives back in its callbacks. NULL on failure. */
struct lws *loop_adopt(struct lws_vhost *vh, int fd, const char *protocol, void *opaque);

/* The same for a descriptor only written to: the loop never waits for it to be readable.
 * (An output that is a FIFO opened read-write, as the supervisor gives its stages, reads
 * as readable while its own unread output sits in it: watching for that would wake the loop
 * on every pass until the reader took it.) Writable callbacks come as asked; a reader that
 * went away still reports its hang-up.
 * Ask for the next writable callback outside LWS_CALLBACK_RAW_WRITEABLE_FILE: lws stops
 * waiting for POLLOUT after that callback returns, so lws_callback_on_writable() called
 * inside it is undone, and a writer that found the fd full again would wait forever. Note
 * the callback, and write (and ask again) after lws_service() returns. */
struct lws *loop_adopt_output(struct lws_vhost *vh, int fd, const char *protocol, void *opaque);

#endif
