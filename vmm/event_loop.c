#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "event_loop.h"

int event_loop_init(struct event_loop *loop)
{
	memset(loop, 0, sizeof(*loop));
	for (int i = 0; i < EVENT_LOOP_MAX_HANDLERS; i++)
		loop->handlers[i].fd = -1;
	loop->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	return loop->epoll_fd < 0 ? -errno : 0;
}

static struct event_handler *find(struct event_loop *loop, int fd)
{
	for (int i = 0; i < EVENT_LOOP_MAX_HANDLERS; i++)
		if (loop->handlers[i].fd == fd)
			return &loop->handlers[i];
	return NULL;
}

/* What epoll should watch for now: nothing for a device while paused. */
static uint32_t effective(const struct event_loop *loop, const struct event_handler *h)
{
	return loop->paused && !h->control ? 0 : h->events;
}

static int add(struct event_loop *loop, int fd, uint32_t events, event_fn fn, void *opaque,
	       bool control)
{
	struct event_handler *h = find(loop, -1);

	if (!h)
		return -ENOSPC;
	*h = (struct event_handler){ fd, fn, opaque, events, control };
	struct epoll_event ev = { .events = effective(loop, h), .data.ptr = h };

	if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		h->fd = -1;
		return -errno;
	}
	return 0;
}

int event_loop_add(struct event_loop *loop, int fd, uint32_t events, event_fn fn, void *opaque)
{
	return add(loop, fd, events, fn, opaque, false);
}

int event_loop_add_control(struct event_loop *loop, int fd, uint32_t events, event_fn fn,
			   void *opaque)
{
	return add(loop, fd, events, fn, opaque, true);
}

static int apply(struct event_loop *loop, struct event_handler *h)
{
	struct epoll_event ev = { .events = effective(loop, h), .data.ptr = h };

	return epoll_ctl(loop->epoll_fd, EPOLL_CTL_MOD, h->fd, &ev) < 0 ? -errno : 0;
}

int event_loop_modify(struct event_loop *loop, int fd, uint32_t events)
{
	struct event_handler *h = find(loop, fd);

	if (!h)
		return -ENOENT;
	h->events = events;
	return apply(loop, h);
}

void event_loop_pause_devices(struct event_loop *loop, bool paused)
{
	loop->paused = paused;
	for (int i = 0; i < EVENT_LOOP_MAX_HANDLERS; i++)
		if (loop->handlers[i].fd >= 0 && !loop->handlers[i].control)
			apply(loop, &loop->handlers[i]);
}

void event_loop_remove(struct event_loop *loop, int fd)
{
	struct event_handler *h = find(loop, fd);

	if (!h)
		return;
	epoll_ctl(loop->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
	h->fd = -1;
}

int event_loop_run_once(struct event_loop *loop, int timeout_ms)
{
	struct epoll_event events[16];
	int n = epoll_wait(loop->epoll_fd, events, 16, timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n && !loop->quit; i++) {
		struct event_handler *h = events[i].data.ptr;

		/* A handler earlier in this batch may have removed this one,
		 * or paused the devices. */
		if (h->fd >= 0 && (h->control || !loop->paused))
			h->fn(h->opaque, events[i].events);
	}
	return n;
}

int event_loop_run(struct event_loop *loop)
{
	while (!loop->quit) {
		int n = event_loop_run_once(loop, -1);

		if (n < 0)
			return n;
	}
	return 0;
}

void event_loop_destroy(struct event_loop *loop)
{
	if (loop->epoll_fd >= 0)
		close(loop->epoll_fd);
	loop->epoll_fd = -1;
}
