/* The I/O thread's epoll loop: every device backend's file descriptors are served here. */
#ifndef MINIVMM_EVENT_LOOP_H
#define MINIVMM_EVENT_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#define EVENT_LOOP_MAX_HANDLERS 64

typedef void (*event_fn)(void *opaque, uint32_t events);

struct event_handler {
	int fd;
	event_fn fn;
	void *opaque;
	uint32_t events; /* what the owner wants, even while paused */
	bool control;	 /* served while the VM is paused (signals, console, monitor) */
};

struct event_loop {
	int epoll_fd;
	bool quit;
	bool paused; /* device handlers are off: no device work, no DMA */
	struct event_handler handlers[EVENT_LOOP_MAX_HANDLERS];
};

int event_loop_init(struct event_loop *loop);
/* Watch @fd for @events (EPOLLIN, ...); 0 or -errno. */
int event_loop_add(struct event_loop *loop, int fd, uint32_t events, event_fn fn, void *opaque);
/* The same for the VMM's own fds, which keep working while the VM is paused. */
int event_loop_add_control(struct event_loop *loop, int fd, uint32_t events, event_fn fn,
			   void *opaque);
/* Stop or restart serving device fds (virtqueue notifications, tap, ...). */
void event_loop_pause_devices(struct event_loop *loop, bool paused);
/* Change what @fd is watched for; 0 stops watching it for now without removing it. */
int event_loop_modify(struct event_loop *loop, int fd, uint32_t events);
void event_loop_remove(struct event_loop *loop, int fd);
/* Serve events until a handler sets loop->quit. Returns 0 or -errno. */
int event_loop_run(struct event_loop *loop);
/* One epoll_wait (up to @timeout_ms, -1 for ever) and its handlers: events seen, or -errno. */
int event_loop_run_once(struct event_loop *loop, int timeout_ms);
void event_loop_destroy(struct event_loop *loop);

#endif
