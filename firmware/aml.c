/* AML encodings from ACPI 6.5 chapter 20 (grammar) and section 6.4 (resource descriptors). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "aml.h"

#define ZERO_OP 0x00
#define ONE_OP 0x01
#define NAME_OP 0x08
#define BYTE_PREFIX 0x0a
#define WORD_PREFIX 0x0b
#define DWORD_PREFIX 0x0c
#define STRING_PREFIX 0x0d
#define QWORD_PREFIX 0x0e
#define SCOPE_OP 0x10
#define BUFFER_OP 0x11
#define PACKAGE_OP 0x12
#define METHOD_OP 0x14
#define LOCAL0_OP 0x60
#define ARG0_OP 0x68
#define STORE_OP 0x70
#define AND_OP 0x7b
#define NOTIFY_OP 0x86
#define LEQUAL_OP 0x93
#define IF_OP 0xa0
#define DUAL_NAME_PREFIX 0x2e
#define MULTI_NAME_PREFIX 0x2f
#define EXT_OP_PREFIX 0x5b
#define OP_REGION_OP 0x80 /* after EXT_OP_PREFIX */
#define FIELD_OP 0x81 /* after EXT_OP_PREFIX */
#define DEVICE_OP 0x82 /* after EXT_OP_PREFIX */
#define ROOT_CHAR '\\'
#define PARENT_PREFIX_CHAR '^'
#define RETURN_OP 0xa4

#define NAME_SEG_LEN 4
#define MAX_LOCALS 8
#define MAX_ARGS 7 /* Arg0 to Arg6; a method takes 0 to 7 arguments */
#define METHOD_SERIALIZED 0x08 /* MethodFlags: ArgCount in bits 2:0 */
#define MAX_NAME_SEGS 255 /* the MultiNamePrefix count is one byte */

void aml_init(struct aml *a)
{
	*a = (struct aml){ 0 };
}

void aml_free(struct aml *a)
{
	free(a->data);
	aml_init(a);
}

static void fail(struct aml *a, int err)
{
	if (!a->err)
		a->err = err;
}

static bool reserve(struct aml *a, size_t more)
{
	size_t cap = a->cap ? a->cap : 256;
	uint8_t *p;

	if (a->err)
		return false;
	if (more > SIZE_MAX / 2 - a->len) {
		fail(a, -ENOMEM);
		return false;
	}
	while (cap < a->len + more)
		cap *= 2;
	if (cap == a->cap)
		return true;
	p = realloc(a->data, cap);
	if (!p) {
		fail(a, -ENOMEM);
		return false;
	}
	a->data = p;
	a->cap = cap;
	return true;
}

void aml_append(struct aml *a, const void *bytes, size_t len)
{
	if (len == 0 || !reserve(a, len))
		return;
	memcpy(a->data + a->len, bytes, len);
	a->len += len;
}

static void put_byte(struct aml *a, uint8_t b)
{
	aml_append(a, &b, 1);
}

/* Little-endian, as every multi-byte AML and resource field is. */
static void put_le(struct aml *a, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		put_byte(a, (uint8_t)(v >> (8 * i)));
}

/* Take over @from's error, so a failed body fails its parent. */
static bool inherit_error(struct aml *a, const struct aml *from)
{
	if (from->err)
		fail(a, from->err);
	return !a->err;
}

int aml_pkglen_encode(uint32_t value, uint8_t out[4])
{
	int extra;

	if (value < 64) {
		out[0] = value; /* one byte: bits 5:0 are the length */
		return 1;
	}
	if (value > AML_PKGLEN_MAX)
		return 0;
	/* Lead byte: count of following bytes in bits 7:6, low nibble in 3:0. */
	extra = value < (1U << 12) ? 1 : value < (1U << 20) ? 2 : 3;
	out[0] = (uint8_t)(extra << 6 | (value & 0x0f));
	for (int i = 0; i < extra; i++)
		out[1 + i] = (uint8_t)(value >> (4 + 8 * i));
	return 1 + extra;
}

int aml_pkglen_decode(const uint8_t *in, size_t len, uint32_t *value)
{
	int extra;
	uint32_t v;

	if (len < 1)
		return 0;
	extra = in[0] >> 6;
	if (extra == 0) {
		*value = in[0] & 0x3f;
		return 1;
	}
	if ((in[0] & 0x30) || len < (size_t)extra + 1)
		return 0; /* bits 5:4 are reserved in the multi-byte form */
	v = in[0] & 0x0f;
	for (int i = 0; i < extra; i++)
		v |= (uint32_t)in[1 + i] << (4 + 8 * i);
	*value = v;
	return 1 + extra;
}

/* PkgLength for @content bytes: the encoded value includes the PkgLength itself. */
static void put_pkglen(struct aml *a, size_t content)
{
	uint8_t enc[4];

	for (uint32_t n = 1; n <= 4; n++) {
		if (content > AML_PKGLEN_MAX - n)
			break;
		if (aml_pkglen_encode((uint32_t)content + n, enc) == (int)n) {
			aml_append(a, enc, n);
			return;
		}
	}
	fail(a, -EINVAL);
}

/* @op, PkgLength, @head, @body: the shape of every term with a package length. */
static void put_pkg(struct aml *a, const uint8_t *op, size_t oplen, const struct aml *head,
		    const struct aml *body)
{
	if (!inherit_error(a, head) || !inherit_error(a, body))
		return;
	aml_append(a, op, oplen);
	put_pkglen(a, head->len + body->len);
	aml_append(a, head->data, head->len);
	aml_append(a, body->data, body->len);
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

uint32_t aml_eisaid(const char *id)
{
	uint32_t vendor = 0, product = 0;

	if (strlen(id) != 7)
		return 0;
	/* Three letters, five bits each ('A' is 1), then a 16-bit product number. */
	for (int i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z')
			return 0;
		vendor = vendor << 5 | (uint32_t)(id[i] - '@');
	}
	for (int i = 3; i < 7; i++) {
		int d = hex_digit(id[i]);

		if (d < 0)
			return 0;
		product = product << 4 | (uint32_t)d;
	}
	/* Both halves are stored big-endian inside the little-endian DWord. */
	return (vendor >> 8 | (vendor & 0xff) << 8) | (product >> 8 | (product & 0xff) << 8) << 16;
}

static bool name_char_ok(char c, bool first)
{
	return (c >= 'A' && c <= 'Z') || c == '_' || (!first && c >= '0' && c <= '9');
}

/* One segment of @len characters from @s, padded with '_'. */
static void put_name_seg(struct aml *a, const char *s, size_t len)
{
	char seg[NAME_SEG_LEN] = { '_', '_', '_', '_' };

	if (len == 0 || len > NAME_SEG_LEN) {
		fail(a, -EINVAL);
		return;
	}
	for (size_t i = 0; i < len; i++) {
		if (!name_char_ok(s[i], i == 0)) {
			fail(a, -EINVAL);
			return;
		}
		seg[i] = s[i];
	}
	aml_append(a, seg, NAME_SEG_LEN);
}

static size_t count_segs(const char *path)
{
	size_t n = *path ? 1 : 0;

	for (const char *p = path; *p; p++)
		n += *p == '.';
	return n;
}

void aml_name_string(struct aml *a, const char *path)
{
	size_t nsegs;

	if (*path == ROOT_CHAR)
		put_byte(a, *path++);
	else
		while (*path == PARENT_PREFIX_CHAR)
			put_byte(a, *path++);
	nsegs = count_segs(path);
	if (nsegs == 0)
		put_byte(a, 0x00); /* NullName: "\" alone */
	else if (nsegs == 2)
		put_byte(a, DUAL_NAME_PREFIX);
	else if (nsegs > MAX_NAME_SEGS)
		fail(a, -EINVAL);
	else if (nsegs > 2) {
		put_byte(a, MULTI_NAME_PREFIX);
		put_byte(a, (uint8_t)nsegs);
	}
	while (nsegs--) {
		const char *dot = strchr(path, '.');
		size_t len = dot ? (size_t)(dot - path) : strlen(path);

		put_name_seg(a, path, len);
		path += len + (dot != NULL);
	}
}

void aml_integer(struct aml *a, uint64_t v)
{
	if (v == 0) {
		put_byte(a, ZERO_OP);
	} else if (v == 1) {
		put_byte(a, ONE_OP);
	} else if (v <= 0xff) {
		put_byte(a, BYTE_PREFIX);
		put_le(a, v, 1);
	} else if (v <= 0xffff) {
		put_byte(a, WORD_PREFIX);
		put_le(a, v, 2);
	} else if (v <= 0xffffffff) {
		put_byte(a, DWORD_PREFIX);
		put_le(a, v, 4);
	} else {
		put_byte(a, QWORD_PREFIX);
		put_le(a, v, 8);
	}
}

void aml_string(struct aml *a, const char *s)
{
	/* AML strings are ASCII 0x01-0x7f, NUL-terminated. */
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p > 0x7f)
			fail(a, -EINVAL);
	put_byte(a, STRING_PREFIX);
	aml_append(a, s, strlen(s) + 1);
}

void aml_package(struct aml *a, uint8_t count, const struct aml *elements)
{
	static const uint8_t op = PACKAGE_OP;
	struct aml head;

	aml_init(&head);
	put_byte(&head, count);
	put_pkg(a, &op, 1, &head, elements);
	aml_free(&head);
}

void aml_buffer(struct aml *a, const struct aml *bytes)
{
	static const uint8_t op = BUFFER_OP;
	struct aml head;

	aml_init(&head);
	aml_integer(&head, bytes->len); /* BufferSize */
	put_pkg(a, &op, 1, &head, bytes);
	aml_free(&head);
}

void aml_name(struct aml *a, const char *path, const struct aml *value)
{
	if (!inherit_error(a, value))
		return;
	put_byte(a, NAME_OP);
	aml_name_string(a, path);
	aml_append(a, value->data, value->len);
}

void aml_name_integer(struct aml *a, const char *path, uint64_t v)
{
	struct aml value;

	aml_init(&value);
	aml_integer(&value, v);
	aml_name(a, path, &value);
	aml_free(&value);
}

void aml_name_string_value(struct aml *a, const char *path, const char *s)
{
	struct aml value;

	aml_init(&value);
	aml_string(&value, s);
	aml_name(a, path, &value);
	aml_free(&value);
}

void aml_name_eisaid(struct aml *a, const char *path, const char *id)
{
	uint32_t v = aml_eisaid(id);
	struct aml value;

	if (!v) {
		fail(a, -EINVAL);
		return;
	}
	/* Always a DWord, as iasl's EisaId() emits: the guest compares the raw value. */
	aml_init(&value);
	put_byte(&value, DWORD_PREFIX);
	put_le(&value, v, 4);
	aml_name(a, path, &value);
	aml_free(&value);
}

/* A term whose PkgLength covers a name string and a body: Scope, Device, Method. */
static void put_named_pkg(struct aml *a, const uint8_t *op, size_t oplen, const char *path,
			  const uint8_t *flags, const struct aml *body)
{
	struct aml head;

	aml_init(&head);
	aml_name_string(&head, path);
	if (flags)
		put_byte(&head, *flags);
	put_pkg(a, op, oplen, &head, body);
	aml_free(&head);
}

void aml_scope(struct aml *a, const char *path, const struct aml *body)
{
	static const uint8_t op = SCOPE_OP;

	put_named_pkg(a, &op, 1, path, NULL, body);
}

void aml_device(struct aml *a, const char *path, const struct aml *body)
{
	static const uint8_t op[] = { EXT_OP_PREFIX, DEVICE_OP };

	put_named_pkg(a, op, sizeof(op), path, NULL, body);
}

void aml_method(struct aml *a, const char *path, int nargs, bool serialized,
		const struct aml *body)
{
	static const uint8_t op = METHOD_OP;
	uint8_t flags = (uint8_t)nargs | (serialized ? METHOD_SERIALIZED : 0);

	if (nargs < 0 || nargs > MAX_ARGS) {
		fail(a, -EINVAL);
		return;
	}
	put_named_pkg(a, &op, 1, path, &flags, body); /* SyncLevel 0 */
}

void aml_method_return_integer(struct aml *a, const char *path, uint64_t v)
{
	struct aml body;

	aml_init(&body);
	put_byte(&body, RETURN_OP);
	aml_integer(&body, v);
	aml_method(a, path, 0, false, &body);
	aml_free(&body);
}

void aml_operation_region(struct aml *a, const char *name, uint8_t space, uint64_t offset,
			  uint64_t len)
{
	put_byte(a, EXT_OP_PREFIX);
	put_byte(a, OP_REGION_OP);
	aml_name_string(a, name);
	put_byte(a, space);
	aml_integer(a, offset);
	aml_integer(a, len);
}

void aml_field(struct aml *a, const char *region, uint8_t flags, const char *name,
	       uint32_t bits)
{
	static const uint8_t op[] = { EXT_OP_PREFIX, FIELD_OP };
	struct aml list;
	uint8_t enc[4];
	int n = aml_pkglen_encode(bits, enc); /* a NamedField's width: not self-counting */

	aml_init(&list);
	put_name_seg(&list, name, strlen(name));
	if (bits == 0 || n == 0)
		fail(&list, -EINVAL);
	aml_append(&list, enc, n);
	put_named_pkg(a, op, sizeof(op), region, &flags, &list);
	aml_free(&list);
}

void aml_local(struct aml *a, int n)
{
	if (n < 0 || n >= MAX_LOCALS)
		fail(a, -EINVAL);
	put_byte(a, (uint8_t)(LOCAL0_OP + n));
}

void aml_arg(struct aml *a, int n)
{
	if (n < 0 || n >= MAX_ARGS)
		fail(a, -EINVAL);
	put_byte(a, (uint8_t)(ARG0_OP + n));
}

/* @op, then each operand that is not NULL. */
static void put_term(struct aml *a, uint8_t op, const struct aml *x, const struct aml *y)
{
	if (!inherit_error(a, x) || (y && !inherit_error(a, y)))
		return;
	put_byte(a, op);
	aml_append(a, x->data, x->len);
	if (y)
		aml_append(a, y->data, y->len);
}

void aml_store(struct aml *a, const struct aml *src, const struct aml *dst)
{
	put_term(a, STORE_OP, src, dst);
}

void aml_and(struct aml *a, const struct aml *x, const struct aml *y)
{
	put_term(a, AND_OP, x, y);
	put_byte(a, 0x00); /* Target: NullName, the result is only returned */
}

void aml_lequal(struct aml *a, const struct aml *x, const struct aml *y)
{
	put_term(a, LEQUAL_OP, x, y);
}

void aml_if(struct aml *a, const struct aml *predicate, const struct aml *body)
{
	static const uint8_t op = IF_OP;

	put_pkg(a, &op, 1, predicate, body);
}

void aml_notify(struct aml *a, const struct aml *object, const struct aml *value)
{
	put_term(a, NOTIFY_OP, object, value);
}

/* Small descriptor tags: bits 6:3 are the type, 2:0 the length that follows. */
#define RES_IRQ_NOFLAGS (0x04 << 3 | 2)
#define RES_IO (0x08 << 3 | 7)
#define RES_END_TAG (0x0f << 3 | 1)
/* Large descriptor tags: bit 7 set, then a 16-bit length. */
#define RES_MEMORY32_FIXED 0x86
#define RES_EXTENDED_IRQ 0x89
#define RES_IO_DECODE16 0x01
#define RES_MEM_READ_WRITE 0x01
#define RES_IRQ_CONSUMER 0x01

void aml_res_io(struct aml *a, uint16_t base, uint8_t len)
{
	put_byte(a, RES_IO);
	put_byte(a, RES_IO_DECODE16);
	put_le(a, base, 2); /* minimum */
	put_le(a, base, 2); /* maximum: the same, a fixed base */
	put_byte(a, 1); /* alignment */
	put_byte(a, len);
}

void aml_res_irq_noflags(struct aml *a, uint8_t irq)
{
	if (irq > 15) {
		fail(a, -EINVAL);
		return;
	}
	put_byte(a, RES_IRQ_NOFLAGS);
	put_le(a, 1U << irq, 2); /* a mask of ISA IRQs */
}

void aml_res_memory32_fixed(struct aml *a, uint32_t base, uint32_t size)
{
	put_byte(a, RES_MEMORY32_FIXED);
	put_le(a, 9, 2);
	put_byte(a, RES_MEM_READ_WRITE);
	put_le(a, base, 4);
	put_le(a, size, 4);
}

void aml_res_interrupt(struct aml *a, uint8_t flags, uint32_t gsi)
{
	put_byte(a, RES_EXTENDED_IRQ);
	put_le(a, 6, 2); /* flags, count, one 32-bit interrupt number */
	put_byte(a, flags | RES_IRQ_CONSUMER);
	put_byte(a, 1);
	put_le(a, gsi, 4);
}

void aml_res_end(struct aml *a)
{
	put_byte(a, RES_END_TAG);
	put_byte(a, 0); /* a zero checksum means "treat as valid" */
}
