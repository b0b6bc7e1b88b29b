/* Splitting a monitor command line into words: the part of the monitor with no I/O. */
#ifndef MINIVMM_MONITOR_PARSE_H
#define MINIVMM_MONITOR_PARSE_H

#include <stddef.h>

#define MONITOR_LINE_MAX 1024 /* bytes in one command line, newline excluded */
#define MONITOR_MAX_WORDS 8

/*
 * Split @line (modified in place) into at most MONITOR_MAX_WORDS words on
 * spaces and tabs; "double quotes" group a word with spaces, and \" and \\
 * escape inside them. Returns the word count, or -1 with @why for an
 * unterminated quote, too many words, or a control character.
 */
int monitor_split(char *line, char **words, const char **why);

#endif
