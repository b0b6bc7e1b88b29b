#include "monitor_parse.h"

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Copy one quoted word from @p (just past the quote) to @out; return the end or NULL. */
static char *quoted_word(char *p, char **out)
{
	char *dst = p;

	*out = p;
	for (; *p && *p != '"'; p++) {
		if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
			p++;
		*dst++ = *p;
	}
	if (*p != '"')
		return NULL;
	*dst = '\0';
	return p + 1;
}

int monitor_split(char *line, char **words, const char **why)
{
	int n = 0;
	char *p = line;

	for (char *c = line; *c; c++)
		if ((unsigned char)*c < 0x20 && !is_space(*c))
			return *why = "control character in the command", -1;
	for (;;) {
		while (is_space(*p))
			p++;
		if (!*p)
			return n;
		if (n == MONITOR_MAX_WORDS)
			return *why = "too many words", -1;
		if (*p == '"') {
			p = quoted_word(p + 1, &words[n++]);
			if (!p)
				return *why = "unterminated quote", -1;
			if (*p && !is_space(*p))
				return *why = "text right after a closing quote", -1;
		} else {
			words[n++] = p;
			while (*p && !is_space(*p))
				p++;
		}
		if (*p)
			*p++ = '\0';
	}
}
