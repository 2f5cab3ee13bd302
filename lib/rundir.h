/* rundir.h: the run directory shared by a node's tools: role, leader, pid files, sockets. */
#ifndef RUNDIR_H
#define RUNDIR_H

#include <stddef.h>
#include <sys/types.h>

/* A standby is a follower that keeps its exchange connections and pipeline running, so
 * that if it is promoted it can publish what the old leader never got out. */
enum role { ROLE_LEADER, ROLE_FOLLOWER, ROLE_STANDBY };

/* Creates DIR (and parents) if needed. Returns 0, or -1 with ERRBUF. */
int rundir_ensure(const char *dir, char *errbuf, size_t errlen);

/* Role recorded in DIR/role (leader, standby or follower); a missing or unreadable file
 * means leader (standalone). */
enum role rundir_role(const char *dir);
const char *role_name(enum role r);

/* Writes CONTENT to DIR/NAME atomically (temp file, then rename). Returns 0 or -1 with ERRBUF. */
int rundir_write(const char *dir, const char *name, const char *content, char *errbuf,
		 size_t errlen);
/* Reads DIR/NAME into BUF (NUL-terminated, trailing newline removed). Returns length or -1. */
int rundir_read(const char *dir, const char *name, char *buf, size_t size);

/* Writes DIR/TOOL.pid with this process's pid. */
int rundir_write_pid(const char *dir, const char *tool, char *errbuf, size_t errlen);
/* Removes DIR/TOOL.pid if it still names this process. */
void rundir_remove_pid(const char *dir, const char *tool);

/* Path DIR/NAME into BUF; -1 when it does not fit (unix socket paths are short). */
int rundir_path(const char *dir, const char *name, char *buf, size_t size);

/* Which file a socket path named when it was made, so that only its maker removes it. */
struct rundir_file {
	dev_t dev;
	ino_t ino;
};

/* Listens on a unix stream socket at PATH, non-blocking, and records the socket file in
 * *FILE. A socket file nobody answers on (left by a process that died) is replaced; one
 * that answers belongs to a live process and is left alone: -1 with errno EADDRINUSE.
 * Returns the fd, or -1 with ERRBUF. */
int rundir_listen_unix(const char *path, struct rundir_file *file, char *errbuf, size_t errlen);
/* Removes PATH if it is still the socket file FILE recorded, not another process's since. */
void rundir_remove_unix(const char *path, const struct rundir_file *file);
/* Connects to the unix stream socket at PATH. Returns the fd or -1 with errno. */
int rundir_connect_unix(const char *path);

/* When FD is a pipe or FIFO, asks for a 1 MiB buffer so a neighbour that restarts or
 * pauses costs less; anything else is left alone. */
void fd_grow_pipe(int fd);

/* Sets O_NONBLOCK on FD. Returns 0 or -1. */
int fd_nonblock(int fd);

#endif
