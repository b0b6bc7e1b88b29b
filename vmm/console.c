#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <termios.h>
#include <unistd.h>

#include "console.h"
#include "log.h"
#include "vm.h"

/* Filtered input not yet taken by the frontend; stdin is read only while it has room. */
#define HOLD_SIZE 1024

struct console {
	struct vm *vm;
	struct console_frontend frontend;
	struct escape_state escape;
	int in_fd;
	int out_fd;
	bool in_watched;      /* stdin is on the event loop */
	bool in_paused;	      /* ... but not read while the hold buffer is full */
	atomic_bool waiting;  /* held bytes wait for the frontend to make room */
	int ready_fd;	      /* eventfd: the frontend has room again */
	bool out_watched;     /* out_fd is on the event loop, for EPOLLOUT */
	void (*out_ready)(void *opaque); /* ... which calls this */
	void *out_ready_arg;
	size_t held_len;
	uint8_t held[HOLD_SIZE];
};

/*
 * The terminal state to put back. Global because the fatal-signal handler
 * and atexit() need it, and neither can be handed the VM.
 */
static struct termios saved_termios;
static volatile sig_atomic_t terminal_is_raw;

void console_restore_terminal(void)
{
	if (terminal_is_raw) {
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_termios);
		terminal_is_raw = 0;
	}
}

static void fatal_signal(int sig)
{
	console_restore_terminal();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Raw input (every key to the guest, Ctrl-C included); output processing kept. */
static void enter_raw_mode(void)
{
	static const int fatal[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGQUIT };
	struct termios raw;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_termios) < 0)
		return;
	raw = saved_termios;
	raw.c_iflag &= ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
	raw.c_lflag &= ~(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	raw.c_cflag &= ~(CSIZE | PARENB);
	raw.c_cflag |= CS8;
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		signal(fatal[i], fatal_signal);
	atexit(console_restore_terminal);
	if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
		terminal_is_raw = 1;
}

size_t console_filter(struct escape_state *st, const uint8_t *in, size_t len, uint8_t *out,
		      bool *quit)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		uint8_t c = in[i];

		if (!st->after_escape && c == ESCAPE_CHAR) {
			st->after_escape = true;
			continue;
		}
		if (st->after_escape) {
			st->after_escape = false;
			if (c == 'x' || c == 'X') {
				*quit = true;
				return n;
			}
			if (c != ESCAPE_CHAR)
				out[n++] = ESCAPE_CHAR; /* not ours: pass both on */
		}
		out[n++] = c;
	}
	return n;
}

static void watch_input(struct console *con, bool on)
{
	if (con->in_watched && con->in_paused == on) {
		event_loop_modify(&con->vm->loop, con->in_fd, on ? EPOLLIN : 0);
		con->in_paused = !on;
	}
}

/* Room in the hold buffer for the next read; a pending escape may come out as two bytes. */
static size_t hold_room(const struct console *con)
{
	return sizeof(con->held) - con->held_len - con->escape.after_escape;
}

static void stop_input(struct console *con)
{
	event_loop_remove(&con->vm->loop, con->in_fd);
	con->in_watched = false;
}

static void wake(struct console *con)
{
	uint64_t one = 1;

	if (write(con->ready_fd, &one, sizeof(one)) < 0)
		log_debug("console eventfd: %s", strerror(errno));
}

/* Pass held input on as far as the frontend has room. */
static void deliver(struct console *con)
{
	struct console_frontend *fe = &con->frontend;
	size_t n;

	/*
	 * Pushing input is device work (a UART interrupt, virtio DMA into guest
	 * RAM), so none while the VM is paused. ready_fd is a device fd: this
	 * wake is served once the VM resumes.
	 */
	if (con->vm->loop.paused) {
		if (con->held_len)
			wake(con);
		return;
	}
	n = fe->rx_space(fe->dev);
	if (n > con->held_len)
		n = con->held_len;
	if (n) {
		fe->rx_push(fe->dev, con->held, n);
		con->held_len -= n;
		memmove(con->held, con->held + n, con->held_len);
	}
	if (!con->held_len)
		return;
	/*
	 * The frontend is full now (a full UART FIFO is the state it wakes us
	 * from). It may have drained before it could see `waiting`: look again.
	 */
	atomic_store(&con->waiting, true);
	if (fe->rx_space(fe->dev))
		wake(con);
}

static void on_input(void *opaque, uint32_t events)
{
	struct console *con = opaque;
	size_t room = hold_room(con);
	uint8_t in[256];
	bool quit = false;

	(void)events;
	if (room == 0) {
		watch_input(con, false);
		return;
	}
	ssize_t n = read(con->in_fd, in, room < sizeof(in) ? room : sizeof(in));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		stop_input(con); /* end of input: the guest just gets no more */
		return;
	}
	con->held_len += console_filter(&con->escape, in, n, con->held + con->held_len, &quit);
	deliver(con);
	watch_input(con, hold_room(con) > 0);
	if (quit) {
		log_msg("quit (Ctrl-A x)");
		vm_request_exit(con->vm, EXIT_POWEROFF);
	}
}

static void on_ready(void *opaque, uint32_t events)
{
	struct console *con = opaque;
	uint64_t count;

	(void)events;
	if (read(con->ready_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_debug("console eventfd: %s", strerror(errno));
	atomic_store(&con->waiting, false);
	deliver(con);
	watch_input(con, hold_room(con) > 0);
}

struct console *console_open(struct vm *vm, const struct console_frontend *frontend, int in_fd,
			     int out_fd)
{
	struct console *con = calloc(1, sizeof(*con));

	if (!con)
		die(EXIT_RUNTIME, "console: out of memory");
	*con = (struct console){ .vm = vm, .frontend = *frontend, .in_fd = in_fd, .out_fd = out_fd };
	con->ready_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (con->ready_fd < 0 ||
	    event_loop_add(&vm->loop, con->ready_fd, EPOLLIN, on_ready, con) < 0)
		die(EXIT_RUNTIME, "console: %s", strerror(errno));
	/* Input that epoll cannot watch (/dev/null, a regular file) simply gives none. */
	con->in_watched = event_loop_add_control(&vm->loop, in_fd, EPOLLIN, on_input, con) == 0;
	return con;
}

void console_init(struct vm *vm, const struct console_frontend *frontend)
{
	enter_raw_mode();
	vm->console = console_open(vm, frontend, STDIN_FILENO, STDOUT_FILENO);
}

void console_set_frontend(struct console *con, const struct console_frontend *frontend)
{
	con->frontend = *frontend;
}

void console_write(struct console *con, const uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = write(con->out_fd, buf, len);

		if (n < 0 && errno == EINTR && !vm_exiting(con->vm))
			continue;
		if (n <= 0)
			return; /* stdout gone or blocked at exit: the output has nowhere to go */
		buf += n;
		len -= n;
	}
}

size_t console_write_nonblock(struct console *con, const uint8_t *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		struct pollfd p = { .fd = con->out_fd, .events = POLLOUT };
		size_t chunk = len - done < PIPE_BUF ? len - done : PIPE_BUF;
		ssize_t n;

		if (poll(&p, 1, 0) < 0) {
			if (errno == EINTR)
				continue;
			return len;
		}
		if (p.revents & (POLLERR | POLLHUP | POLLNVAL))
			return len; /* stdout gone: the output has nowhere to go */
		if (!(p.revents & POLLOUT))
			return done;
		/* Writable, and at most PIPE_BUF bytes: a pipe takes them without blocking. */
		n = write(con->out_fd, buf + done, chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return done; /* someone else made it non-blocking: the same as full */
		if (n <= 0)
			return len;
		done += n;
	}
	return done;
}

static void on_writable(void *opaque, uint32_t events)
{
	struct console *con = opaque;

	(void)events; /* EPOLLERR or EPOLLHUP too: the writer then sees the output gone */
	event_loop_remove(&con->vm->loop, con->out_fd);
	con->out_watched = false;
	if (con->out_ready)
		con->out_ready(con->out_ready_arg);
}

void console_wait_writable(struct console *con, void (*fn)(void *opaque), void *opaque)
{
	int err;

	con->out_ready = fn;
	con->out_ready_arg = opaque;
	if (con->out_watched)
		return;
	/* A device fd: resuming output is device work, none while the VM is paused. */
	err = event_loop_add(&con->vm->loop, con->out_fd, EPOLLOUT, on_writable, con);
	if (err < 0)
		log_debug("console: cannot watch output fd %d: %s", con->out_fd, strerror(-err));
	else
		con->out_watched = true;
}

void console_rx_ready(struct console *con)
{
	if (con && atomic_load(&con->waiting))
		wake(con);
}

void console_destroy(struct console *con)
{
	if (!con)
		return;
	console_restore_terminal();
	if (con->in_watched)
		event_loop_remove(&con->vm->loop, con->in_fd);
	if (con->out_watched)
		event_loop_remove(&con->vm->loop, con->out_fd);
	event_loop_remove(&con->vm->loop, con->ready_fd);
	close(con->ready_fd);
	free(con);
}
