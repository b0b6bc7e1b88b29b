#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "monitor.h"
#include "vm.h"

#define BANNER "minivmm monitor - type 'help' for more information\n"
#define PROMPT "(minivmm) "

static void close_client(struct monitor_client *c)
{
	event_loop_remove(&c->mon->vm->loop, c->fd);
	close(c->fd);
	free(c->out);
	*c = (struct monitor_client){ .fd = -1 };
}

/* Send what we can without blocking the I/O thread; the rest waits for EPOLLOUT. */
static void flush(struct monitor_client *c)
{
	while (c->out_len) {
		ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			c->out_len = 0; /* gone: the read side will see it */
			break;
		}
		memmove(c->out, c->out + n, c->out_len - n);
		c->out_len -= n;
	}
	event_loop_modify(&c->mon->vm->loop, c->fd, EPOLLIN | (c->out_len ? EPOLLOUT : 0));
}

void monitor_printf(struct monitor_client *c, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	if (c->out_len + n > MONITOR_OUT_MAX) {
		c->out_len = 0; /* a client that does not read loses its output */
		return;
	}
	char *out = realloc(c->out, c->out_len + n);

	if (!out)
		return;
	memcpy(out + c->out_len, buf, n);
	c->out = out;
	c->out_len += n;
}

/* Split the received bytes into lines; over-long lines are refused whole. */
static void take_bytes(struct monitor_client *c, const char *buf, size_t n)
{
	for (size_t i = 0; i < n && c->fd >= 0; i++) {
		if (buf[i] != '\n') {
			if (c->len < MONITOR_LINE_MAX)
				c->line[c->len++] = buf[i];
			else
				c->overlong = true;
			continue;
		}
		c->line[c->len] = '\0';
		if (c->overlong)
			monitor_printf(c, "Error: line longer than %d bytes\n", MONITOR_LINE_MAX);
		else
			monitor_execute(c, c->line);
		c->len = 0;
		c->overlong = false;
		if (c->fd >= 0)
			monitor_printf(c, PROMPT);
	}
}

static void on_client(void *opaque, uint32_t events)
{
	struct monitor_client *c = opaque;
	char buf[4096];

	if (events & EPOLLIN) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			close_client(c);
			return;
		}
		if (n > 0)
			take_bytes(c, buf, n);
	} else if (events & (EPOLLHUP | EPOLLERR)) {
		close_client(c);
		return;
	}
	if (c->fd >= 0)
		flush(c);
}

static void on_listen(void *opaque, uint32_t events)
{
	struct monitor *mon = opaque;
	int fd = accept4(mon->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	struct monitor_client *c = NULL;

	(void)events;
	if (fd < 0)
		return;
	for (int i = 0; i < MONITOR_MAX_CLIENTS && !c; i++)
		if (mon->clients[i].fd < 0)
			c = &mon->clients[i];
	if (!c) {
		static const char busy[] = "Error: too many monitor clients\n";

		send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		close(fd);
		return;
	}
	*c = (struct monitor_client){ .mon = mon, .fd = fd };
	if (event_loop_add_control(&mon->vm->loop, fd, EPOLLIN, on_client, c) < 0) {
		close(fd);
		c->fd = -1;
		return;
	}
	monitor_printf(c, BANNER PROMPT);
	flush(c);
}

/* Is someone serving @path? A refused connection means a stale file. */
static bool socket_in_use(const struct sockaddr_un *addr)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool live = fd >= 0 && connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0;

	if (fd >= 0)
		close(fd);
	return live;
}

static void make_address(const char *path, struct sockaddr_un *addr)
{
	*addr = (struct sockaddr_un){ .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(addr->sun_path))
		die(EXIT_USAGE, "--monitor %s: path longer than %zu bytes", path,
		    sizeof(addr->sun_path) - 1);
	strcpy(addr->sun_path, path);
}

static void replace_stale(const char *path, const struct sockaddr_un *addr)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return;
	if (!S_ISSOCK(st.st_mode))
		die(EXIT_RUNTIME, "--monitor %s: exists and is not a socket", path);
	if (socket_in_use(addr))
		die(EXIT_RUNTIME, "--monitor %s: in use by a running process", path);
	unlink(path);
}

void monitor_init(struct monitor *mon, struct vm *vm, const char *path)
{
	struct sockaddr_un addr;

	*mon = (struct monitor){ .vm = vm, .path = path, .listen_fd = -1 };
	for (int i = 0; i < MONITOR_MAX_CLIENTS; i++)
		mon->clients[i].fd = -1;
	make_address(path, &addr);
	replace_stale(path, &addr);
	mon->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	/* The umask makes the socket 0600 from birth: no window where others may connect. */
	mode_t old = umask(0177);
	int err = mon->listen_fd < 0 ||
		  bind(mon->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0;

	umask(old);
	if (err || listen(mon->listen_fd, 8) < 0)
		die(EXIT_RUNTIME, "--monitor %s: %s", path, strerror(errno));
	if (event_loop_add_control(&vm->loop, mon->listen_fd, EPOLLIN, on_listen, mon) < 0)
		die(EXIT_RUNTIME, "--monitor %s: event loop full", path);
}

void monitor_destroy(struct monitor *mon)
{
	if (mon->listen_fd < 0)
		return;
	for (int i = 0; i < MONITOR_MAX_CLIENTS; i++)
		if (mon->clients[i].fd >= 0) {
			flush(&mon->clients[i]);
			close_client(&mon->clients[i]);
		}
	event_loop_remove(&mon->vm->loop, mon->listen_fd);
	close(mon->listen_fd);
	mon->listen_fd = -1;
	unlink(mon->path);
}
