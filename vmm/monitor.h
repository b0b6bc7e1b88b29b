/*
 * The monitor: a Unix socket speaking a QEMU-monitor-like line protocol,
 * served on the I/O thread. Any number of clients (up to MONITOR_MAX_CLIENTS),
 * each with its own line buffer; commands in docs/monitor.md.
 */
#ifndef MINIVMM_MONITOR_H
#define MINIVMM_MONITOR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "monitor_parse.h"

#define MONITOR_MAX_CLIENTS 16
#define MONITOR_OUT_MAX 65536 /* unread output a client may have before it is dropped */

struct vm;
struct monitor;

struct monitor_client {
	struct monitor *mon;
	int fd;
	char line[MONITOR_LINE_MAX + 1];
	size_t len;
	bool overlong; /* discarding the rest of a line that was too long */
	char *out;
	size_t out_len;
};

struct monitor {
	struct vm *vm;
	const char *path;
	int listen_fd;
	struct monitor_client clients[MONITOR_MAX_CLIENTS];
};

/*
 * Listen on @path (mode 0600). A stale socket left by a dead process is
 * replaced; one a live process serves is refused. Dies with status 1.
 */
void monitor_init(struct monitor *mon, struct vm *vm, const char *path);
/* Close every client and remove the socket file. */
void monitor_destroy(struct monitor *mon);

/* Output to one client (from command handlers). */
void monitor_printf(struct monitor_client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Run one command line for @c (in monitor_commands.c). */
void monitor_execute(struct monitor_client *c, char *line);

#endif
