/* guard.h: RFC 6455 checks on what WebSocket clients send, made on the bytes as they are
 * read, where libwebsockets 4.1 lets a frame through: an unmasked frame, a close frame
 * with a code no endpoint may send, a header announcing a message larger than serve
 * takes (closed at the header, not after the payload). */
#ifndef SERVE_GUARD_H
#define SERVE_GUARD_H

#include <stddef.h>
#include <stdint.h>

/* Resolves the wrapped read functions; call once before any thread starts. */
int guard_init(void);
void guard_free(void);

/* A connection accepted on FD: follow what it sends, as HTTP until guard_start. */
void guard_accept(int fd);
/* FD's upgrade was answered: from the next byte on, what it sends are frames of at most
 * MAX_MSG bytes per message. Returns 0, or a close code when the client already sent
 * bytes past its request (a client waits for the answer first, RFC 6455 4.1). */
int guard_start(int fd, size_t max_msg, const char **why);
/* Stops following FD (a WebSocket inside an HTTP/2 connection shares the socket). */
void guard_stop(int fd);
/* The close code the client's frames call for (1002, 1009), with WHY; 0 while they are
 * well formed. */
int guard_error(int fd, const char **why);
/* The status code of the close frame the client sent, or 0 (none yet, or none in it). */
int guard_peer_close_code(int fd);

#endif
