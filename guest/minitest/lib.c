/*
 * Freestanding string and formatting helpers.  No hardware access, so
 * hosttest.c can exercise them on the build machine.
 */
#include "minitest.h"

/* Word-at-a-time when aligned: under a slow emulator every loop counts. */
void *memcpy(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;

	if (!(((uintptr_t)d | (uintptr_t)s) & 7))
		for (; n >= 8; n -= 8, d += 8, s += 8)
			*(uint64_t *)d = *(const uint64_t *)s;
	while (n--)
		*d++ = *s++;
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;

	if (d < s)
		return memcpy(dst, src, n);
	while (n--)
		d[n] = s[n];
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	uint8_t *d = dst;
	uint64_t w = 0x0101010101010101ULL * (uint8_t)c;

	if (!((uintptr_t)d & 7))
		for (; n >= 8; n -= 8, d += 8)
			*(uint64_t *)d = w;
	while (n--)
		*d++ = (uint8_t)c;
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const uint8_t *x = a, *y = b;

	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		if (*a != *b)
			return (uint8_t)*a - (uint8_t)*b;
		if (!*a)
			break;
	}
	return 0;
}

int strcmp(const char *a, const char *b)
{
	return strncmp(a, b, (size_t)-1);
}

struct outbuf {
	char *buf;
	size_t size;
	size_t len;	/* length it would have without truncation */
};

static void out_char(struct outbuf *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void out_num(struct outbuf *o, uint64_t v, unsigned base, bool neg,
		    int width, char pad)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (neg)
		tmp[n++] = '-';
	while (width-- > n)
		out_char(o, pad);
	while (n)
		out_char(o, tmp[--n]);
}

static uint64_t fetch_unsigned(va_list *ap, int lng)
{
	if (lng)
		return va_arg(*ap, unsigned long);
	return va_arg(*ap, unsigned int);
}

static int64_t fetch_signed(va_list *ap, int lng)
{
	if (lng)
		return va_arg(*ap, long);
	return va_arg(*ap, int);
}

/* Emit one conversion; fmt points at the conversion character. */
static void out_conv(struct outbuf *o, char conv, int lng, int width,
		     char pad, va_list *ap)
{
	const char *s;
	int64_t sv;

	switch (conv) {
	case 'd':
		sv = fetch_signed(ap, lng);
		out_num(o, sv < 0 ? -(uint64_t)sv : (uint64_t)sv, 10, sv < 0,
			width, pad);
		break;
	case 'u':
		out_num(o, fetch_unsigned(ap, lng), 10, false, width, pad);
		break;
	case 'x':
		out_num(o, fetch_unsigned(ap, lng), 16, false, width, pad);
		break;
	case 'c':
		out_char(o, (char)va_arg(*ap, int));
		break;
	case 's':
		s = va_arg(*ap, const char *);
		if (!s)
			s = "(null)";
		for (width -= (int)strlen(s); width > 0; width--)
			out_char(o, ' ');
		while (*s)
			out_char(o, *s++);
		break;
	default:
		out_char(o, '%');
		out_char(o, conv);
		break;
	}
}

/*
 * A small vsnprintf: %d %u %x %c %s %%, optional '0' flag, width and
 * 'l'/'ll' length.  Enough for our fixed output formats.
 */
int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct outbuf o = { buf, size, 0 };
	va_list aq;

	va_copy(aq, ap);
	for (; *fmt; fmt++) {
		int width = 0, lng = 0;
		char pad = ' ';

		if (*fmt != '%') {
			out_char(&o, *fmt);
			continue;
		}
		fmt++;
		if (*fmt == '%') {
			out_char(&o, '%');
			continue;
		}
		if (*fmt == '0')
			pad = '0';
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l') {
			lng = 1;
			fmt++;
		}
		if (!*fmt)
			break;
		out_conv(&o, *fmt, lng, width, pad, &aq);
	}
	va_end(aq);
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return (int)o.len;
}

int ksnprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = kvsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}
