/*
 * The host side of the guest console: stdin and stdout, raw terminal mode,
 * and the Ctrl-A escape. Input flows to one frontend device (the UART or
 * virtio-console) only as fast as the guest drains it, and not at all while
 * the VM is paused: up to 1 KiB waits in the console, then stdin is not read
 * until there is room again (Ctrl-A x works as long as stdin is read).
 */
#ifndef MINIVMM_CONSOLE_H
#define MINIVMM_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ESCAPE_CHAR 0x01 /* Ctrl-A */

struct vm;
struct console;

/* The device that receives console input. */
struct console_frontend {
	size_t (*rx_space)(void *dev);
	void (*rx_push)(void *dev, const uint8_t *buf, size_t len);
	void *dev;
};

/* Escape-sequence state of the input filter. */
struct escape_state {
	bool after_escape;
};

/*
 * Filter @len input bytes into @out (at least @len + 1 bytes: an escape
 * pending from the last call may come out as two), handling Ctrl-A sequences. Returns the bytes for the guest; sets *quit on Ctrl-A x.
 * The bytes consumed are always all @len.
 */
size_t console_filter(struct escape_state *st, const uint8_t *in, size_t len, uint8_t *out,
		      bool *quit);

/* Put the terminal in raw mode (if stdin is one) and serve stdin on vm->loop. */
void console_init(struct vm *vm, const struct console_frontend *frontend);
/* The same on any fds, without raw mode or setting vm->console (unit tests). */
struct console *console_open(struct vm *vm, const struct console_frontend *frontend, int in_fd,
			     int out_fd);
/* Before the event loop runs: console input goes to @frontend instead. */
void console_set_frontend(struct console *con, const struct console_frontend *frontend);
/* Guest output, from any thread; blocks while stdout does (the UART's path). */
void console_write(struct console *con, const uint8_t *buf, size_t len);
/*
 * Guest output that never blocks (I/O thread): writes only while poll says
 * the output is writable, at most PIPE_BUF bytes a write, and returns the
 * bytes taken: fewer than @len when the output is full, all of them when it
 * is gone (dropped, as console_write does). Never sets O_NONBLOCK on it.
 */
size_t console_write_nonblock(struct console *con, const uint8_t *buf, size_t len);
/*
 * I/O thread: call @fn(@opaque) once, on the I/O thread, when the output is
 * writable (or failed). A device fd: not while the VM is paused. A later
 * call before then replaces @fn and @opaque.
 */
void console_wait_writable(struct console *con, void (*fn)(void *opaque), void *opaque);
/* The frontend has room again: resume reading stdin. Any thread. */
void console_rx_ready(struct console *con);
/* Restore the terminal; safe to call more than once and from a signal handler. */
void console_restore_terminal(void);
void console_destroy(struct console *con);

#endif
