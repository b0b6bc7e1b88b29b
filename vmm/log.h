/* Messages and exit codes shared by every part of the VMM. */
#ifndef MINIVMM_LOG_H
#define MINIVMM_LOG_H

#include <stdbool.h>

/* Process exit statuses, documented in docs/minivmm.1. */
enum exit_status {
	EXIT_POWEROFF = 0, /* guest powered off, or the user quit */
	EXIT_RUNTIME = 1,  /* a runtime error on the host side */
	EXIT_USAGE = 2,	   /* bad command line */
	EXIT_RESET = 3,	   /* guest reset or rebooted */
	EXIT_CRASH = 4,	   /* guest crashed: triple fault, internal error */
};

extern bool log_debug_enabled;

/* "minivmm: <what>" on stderr, one line. */
void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* log_msg, then exit with @status (terminal restored by atexit). */
void __attribute__((noreturn, format(printf, 2, 3))) die(int status, const char *fmt, ...);

#endif
