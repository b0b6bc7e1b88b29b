#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot_format.h"

/* ---- CRC-32 ---- */

/* Reflected polynomial 0xedb88320; a constant table keeps it free of init order and locking. */
static const uint32_t crc_table[256] = {
	0x00000000, 0x77073096, 0xee0e612c, 0x990951ba, 0x076dc419, 0x706af48f,
	0xe963a535, 0x9e6495a3, 0x0edb8832, 0x79dcb8a4, 0xe0d5e91e, 0x97d2d988,
	0x09b64c2b, 0x7eb17cbd, 0xe7b82d07, 0x90bf1d91, 0x1db71064, 0x6ab020f2,
	0xf3b97148, 0x84be41de, 0x1adad47d, 0x6ddde4eb, 0xf4d4b551, 0x83d385c7,
	0x136c9856, 0x646ba8c0, 0xfd62f97a, 0x8a65c9ec, 0x14015c4f, 0x63066cd9,
	0xfa0f3d63, 0x8d080df5, 0x3b6e20c8, 0x4c69105e, 0xd56041e4, 0xa2677172,
	0x3c03e4d1, 0x4b04d447, 0xd20d85fd, 0xa50ab56b, 0x35b5a8fa, 0x42b2986c,
	0xdbbbc9d6, 0xacbcf940, 0x32d86ce3, 0x45df5c75, 0xdcd60dcf, 0xabd13d59,
	0x26d930ac, 0x51de003a, 0xc8d75180, 0xbfd06116, 0x21b4f4b5, 0x56b3c423,
	0xcfba9599, 0xb8bda50f, 0x2802b89e, 0x5f058808, 0xc60cd9b2, 0xb10be924,
	0x2f6f7c87, 0x58684c11, 0xc1611dab, 0xb6662d3d, 0x76dc4190, 0x01db7106,
	0x98d220bc, 0xefd5102a, 0x71b18589, 0x06b6b51f, 0x9fbfe4a5, 0xe8b8d433,
	0x7807c9a2, 0x0f00f934, 0x9609a88e, 0xe10e9818, 0x7f6a0dbb, 0x086d3d2d,
	0x91646c97, 0xe6635c01, 0x6b6b51f4, 0x1c6c6162, 0x856530d8, 0xf262004e,
	0x6c0695ed, 0x1b01a57b, 0x8208f4c1, 0xf50fc457, 0x65b0d9c6, 0x12b7e950,
	0x8bbeb8ea, 0xfcb9887c, 0x62dd1ddf, 0x15da2d49, 0x8cd37cf3, 0xfbd44c65,
	0x4db26158, 0x3ab551ce, 0xa3bc0074, 0xd4bb30e2, 0x4adfa541, 0x3dd895d7,
	0xa4d1c46d, 0xd3d6f4fb, 0x4369e96a, 0x346ed9fc, 0xad678846, 0xda60b8d0,
	0x44042d73, 0x33031de5, 0xaa0a4c5f, 0xdd0d7cc9, 0x5005713c, 0x270241aa,
	0xbe0b1010, 0xc90c2086, 0x5768b525, 0x206f85b3, 0xb966d409, 0xce61e49f,
	0x5edef90e, 0x29d9c998, 0xb0d09822, 0xc7d7a8b4, 0x59b33d17, 0x2eb40d81,
	0xb7bd5c3b, 0xc0ba6cad, 0xedb88320, 0x9abfb3b6, 0x03b6e20c, 0x74b1d29a,
	0xead54739, 0x9dd277af, 0x04db2615, 0x73dc1683, 0xe3630b12, 0x94643b84,
	0x0d6d6a3e, 0x7a6a5aa8, 0xe40ecf0b, 0x9309ff9d, 0x0a00ae27, 0x7d079eb1,
	0xf00f9344, 0x8708a3d2, 0x1e01f268, 0x6906c2fe, 0xf762575d, 0x806567cb,
	0x196c3671, 0x6e6b06e7, 0xfed41b76, 0x89d32be0, 0x10da7a5a, 0x67dd4acc,
	0xf9b9df6f, 0x8ebeeff9, 0x17b7be43, 0x60b08ed5, 0xd6d6a3e8, 0xa1d1937e,
	0x38d8c2c4, 0x4fdff252, 0xd1bb67f1, 0xa6bc5767, 0x3fb506dd, 0x48b2364b,
	0xd80d2bda, 0xaf0a1b4c, 0x36034af6, 0x41047a60, 0xdf60efc3, 0xa867df55,
	0x316e8eef, 0x4669be79, 0xcb61b38c, 0xbc66831a, 0x256fd2a0, 0x5268e236,
	0xcc0c7795, 0xbb0b4703, 0x220216b9, 0x5505262f, 0xc5ba3bbe, 0xb2bd0b28,
	0x2bb45a92, 0x5cb36a04, 0xc2d7ffa7, 0xb5d0cf31, 0x2cd99e8b, 0x5bdeae1d,
	0x9b64c2b0, 0xec63f226, 0x756aa39c, 0x026d930a, 0x9c0906a9, 0xeb0e363f,
	0x72076785, 0x05005713, 0x95bf4a82, 0xe2b87a14, 0x7bb12bae, 0x0cb61b38,
	0x92d28e9b, 0xe5d5be0d, 0x7cdcefb7, 0x0bdbdf21, 0x86d3d2d4, 0xf1d4e242,
	0x68ddb3f8, 0x1fda836e, 0x81be16cd, 0xf6b9265b, 0x6fb077e1, 0x18b74777,
	0x88085ae6, 0xff0f6a70, 0x66063bca, 0x11010b5c, 0x8f659eff, 0xf862ae69,
	0x616bffd3, 0x166ccf45, 0xa00ae278, 0xd70dd2ee, 0x4e048354, 0x3903b3c2,
	0xa7672661, 0xd06016f7, 0x4969474d, 0x3e6e77db, 0xaed16a4a, 0xd9d65adc,
	0x40df0b66, 0x37d83bf0, 0xa9bcae53, 0xdebb9ec5, 0x47b2cf7f, 0x30b5ffe9,
	0xbdbdf21c, 0xcabac28a, 0x53b39330, 0x24b4a3a6, 0xbad03605, 0xcdd70693,
	0x54de5729, 0x23d967bf, 0xb3667a2e, 0xc4614ab8, 0x5d681b02, 0x2a6f2b94,
	0xb40bbe37, 0xc30c8ea1, 0x5a05df1b, 0x2d02ef8d,
};

uint32_t snap_crc32(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	crc = ~crc;
	while (len--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* ---- little-endian fields ---- */

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* ---- tags ---- */

static bool tag_char_ok(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '.' || ch == '_' || ch == '-';
}

bool snap_tag_valid(const char *tag)
{
	size_t n = strnlen(tag, SNAP_TAG_LEN + 1);

	if (n == 0 || n > SNAP_TAG_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!tag_char_ok(tag[i]))
			return false;
	return true;
}

/*
 * An on-disk tag: valid characters, then only NULs. Refusing anything else
 * keeps the encoding canonical (one tag, one byte string) and the tag safe
 * to print in a message.
 */
static bool disk_tag_valid(const uint8_t *t)
{
	size_t n = 0;

	while (n < SNAP_TAG_LEN && t[n])
		n++;
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!tag_char_ok((char)t[i]))
			return false;
	for (size_t i = n; i < SNAP_TAG_LEN; i++)
		if (t[i])
			return false;
	return true;
}

static bool disk_tag_is(const uint8_t *t, const char *tag)
{
	uint8_t want[SNAP_TAG_LEN] = { 0 };

	memcpy(want, tag, strnlen(tag, SNAP_TAG_LEN));
	return memcmp(t, want, SNAP_TAG_LEN) == 0;
}

/* ---- the section walk shared by writer and reader ---- */

struct raw_section {
	const uint8_t *tag; /* SNAP_TAG_LEN bytes */
	uint32_t version;
	uint64_t len;
	uint32_t crc;
	const uint8_t *data;
};

/* Decode the section header at @p; the caller has checked SNAP_SECTION_HDR_LEN bytes are there. */
static void decode_section(const uint8_t *p, struct raw_section *s)
{
	s->tag = p;
	s->version = (uint32_t)get_le(p + 16, 4);
	s->len = get_le(p + 20, 8);
	s->crc = (uint32_t)get_le(p + 28, 4);
	s->data = p + SNAP_SECTION_HDR_LEN;
}

/*
 * Sections from offset @from up to @end (exclusive) in a buffer already known
 * to be well-formed: true and the first whose tag is @tag. Linear, but files
 * hold at most SNAP_MAX_SECTIONS sections.
 */
static bool find_raw(const uint8_t *buf, size_t from, size_t end, const char *tag,
		     struct raw_section *out)
{
	for (size_t pos = from; pos < end; pos += SNAP_SECTION_HDR_LEN + out->len) {
		decode_section(buf + pos, out);
		if (disk_tag_is(out->tag, tag))
			return true;
	}
	return false;
}

/* ---- writer ---- */

void snap_writer_init(struct snap_writer *w)
{
	memset(w, 0, sizeof(*w));
}

static int writer_reserve(struct snap_writer *w, size_t more)
{
	size_t cap = w->cap ? w->cap : 4096;

	if (more > SIZE_MAX / 2 - w->len)
		return -ENOMEM;
	while (cap < w->len + more)
		cap *= 2;
	if (cap != w->cap) {
		uint8_t *p = realloc(w->buf, cap);

		if (!p)
			return -ENOMEM;
		w->buf = p;
		w->cap = cap;
	}
	return 0;
}

static void put_header(uint8_t *p)
{
	memcpy(p, SNAP_MAGIC, SNAP_MAGIC_LEN);
	put_le(p + 8, SNAP_FORMAT_VERSION, 4);
	put_le(p + 12, 0, 4); /* flags: none defined in version 1 */
}

/* Append one section with no checks on the tag; the space is reserved by the caller. */
static void append_section(struct snap_writer *w, const char *tag, uint32_t version,
			   const void *data, size_t len)
{
	uint8_t *p = w->buf + w->len;

	memset(p, 0, SNAP_TAG_LEN);
	memcpy(p, tag, strlen(tag));
	put_le(p + 16, version, 4);
	put_le(p + 20, len, 8);
	put_le(p + 28, snap_crc32(0, data, len), 4);
	if (len)
		memcpy(p + SNAP_SECTION_HDR_LEN, data, len);
	w->len += SNAP_SECTION_HDR_LEN + len;
}

/* The header goes in with the first section, so an init that cannot fail needs no allocation. */
static int writer_start(struct snap_writer *w, size_t more)
{
	int err = writer_reserve(w, (w->len ? 0 : SNAP_HEADER_LEN) + more);

	if (err)
		return err;
	if (!w->len) {
		put_header(w->buf);
		w->len = SNAP_HEADER_LEN;
	}
	return 0;
}

int snap_write_section(struct snap_writer *w, const char *tag, uint32_t version,
		       const void *data, size_t len)
{
	struct raw_section s;
	int err;

	if (w->finished || !snap_tag_valid(tag) || strcmp(tag, SNAP_END_TAG) == 0)
		return -EINVAL;
	if (len && !data)
		return -EINVAL;
	if (w->len && find_raw(w->buf, SNAP_HEADER_LEN, w->len, tag, &s))
		return -EINVAL;
	if (w->nsections >= SNAP_MAX_SECTIONS)
		return -E2BIG;
	if (len > SIZE_MAX / 4)
		return -ENOMEM;
	err = writer_start(w, SNAP_SECTION_HDR_LEN + len);
	if (err)
		return err;
	append_section(w, tag, version, data, len);
	w->nsections++;
	return 0;
}

int snap_writer_finish(struct snap_writer *w, const void **buf, size_t *len)
{
	uint8_t end[SNAP_END_LEN];
	int err;

	if (w->finished)
		return -EINVAL;
	err = writer_start(w, SNAP_SECTION_HDR_LEN + SNAP_END_LEN);
	if (err)
		return err;
	put_le(end, w->nsections, 4);
	put_le(end + 4, snap_crc32(0, w->buf, w->len), 4);
	append_section(w, SNAP_END_TAG, SNAP_END_VERSION, end, sizeof(end));
	w->finished = true;
	*buf = w->buf;
	*len = w->len;
	return 0;
}

void snap_writer_free(struct snap_writer *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

/* ---- reader ---- */

static int refuse(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int refuse(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why && whylen) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int check_header(const uint8_t *p, size_t len, char *why, size_t whylen)
{
	uint32_t version, flags;

	if (len < SNAP_HEADER_LEN)
		return refuse(why, whylen, "truncated: %zu bytes, a header needs %d", len,
			      SNAP_HEADER_LEN);
	if (memcmp(p, SNAP_MAGIC, SNAP_MAGIC_LEN) != 0)
		return refuse(why, whylen, "bad magic: not a minivmm snapshot state file");
	version = (uint32_t)get_le(p + 8, 4);
	if (version != SNAP_FORMAT_VERSION)
		return refuse(why, whylen, "format version %" PRIu32 " unsupported (this build reads %d)",
			      version, SNAP_FORMAT_VERSION);
	flags = (uint32_t)get_le(p + 12, 4);
	if (flags)
		return refuse(why, whylen, "unknown header flags 0x%" PRIx32, flags);
	return 0;
}

/* The end section at @pos (already bounds- and CRC-checked): count, file CRC, nothing after. */
static int check_end(const uint8_t *buf, size_t len, size_t pos, const struct raw_section *s,
		     unsigned nsections, char *why, size_t whylen)
{
	size_t after = pos + SNAP_SECTION_HDR_LEN + s->len;
	uint32_t count, crc;

	if (s->version != SNAP_END_VERSION || s->len != SNAP_END_LEN)
		return refuse(why, whylen, "end section at offset %zu: version %" PRIu32
			      " length %" PRIu64 ", expected %d and %d", pos, s->version, s->len,
			      SNAP_END_VERSION, SNAP_END_LEN);
	count = (uint32_t)get_le(s->data, 4);
	crc = (uint32_t)get_le(s->data + 4, 4);
	if (count != nsections)
		return refuse(why, whylen, "end section counts %" PRIu32 " sections, found %u", count,
			      nsections);
	if (crc != snap_crc32(0, buf, pos))
		return refuse(why, whylen, "file CRC mismatch (header or a section header damaged)");
	if (after != len)
		return refuse(why, whylen, "%zu bytes of trailing junk after the end section",
			      len - after);
	return 0;
}

/* One section at @pos: in bounds, valid tag, CRC, not a repeat of an earlier tag. */
static int check_section(const uint8_t *buf, size_t len, size_t pos, struct raw_section *s,
			 char *why, size_t whylen)
{
	char tag[SNAP_TAG_LEN + 1] = { 0 }; /* a 16-character tag has no NUL on disk */
	struct raw_section prev;
	uint32_t crc;

	if (len - pos < SNAP_SECTION_HDR_LEN)
		return refuse(why, whylen, "truncated at offset %zu: a section header needs %d bytes, %zu left",
			      pos, SNAP_SECTION_HDR_LEN, len - pos);
	decode_section(buf + pos, s);
	if (!disk_tag_valid(s->tag))
		return refuse(why, whylen, "section at offset %zu: malformed tag", pos);
	memcpy(tag, s->tag, SNAP_TAG_LEN);
	if (s->len > len - pos - SNAP_SECTION_HDR_LEN)
		return refuse(why, whylen, "section \"%s\" at offset %zu: length %" PRIu64
			      " overruns the file (%zu bytes left)", tag, pos, s->len,
			      len - pos - SNAP_SECTION_HDR_LEN);
	crc = snap_crc32(0, s->data, s->len);
	if (crc != s->crc)
		return refuse(why, whylen, "section \"%s\" at offset %zu: CRC mismatch (stored 0x%08"
			      PRIx32 ", computed 0x%08" PRIx32 ")", tag, pos, s->crc, crc);
	if (find_raw(buf, SNAP_HEADER_LEN, pos, tag, &prev))
		return refuse(why, whylen, "section \"%s\" appears twice (again at offset %zu)", tag,
			      pos);
	return 0;
}

int snap_reader_open(struct snap_reader *r, const void *buf, size_t len, char *why,
		     size_t whylen)
{
	const uint8_t *p = buf;
	struct raw_section s;
	unsigned n = 0;
	int err;

	memset(r, 0, sizeof(*r));
	if (why && whylen)
		why[0] = '\0';
	err = check_header(p, len, why, whylen);
	if (err)
		return err;
	for (size_t pos = SNAP_HEADER_LEN; pos < len; pos += SNAP_SECTION_HDR_LEN + s.len) {
		err = check_section(p, len, pos, &s, why, whylen);
		if (err)
			return err;
		if (disk_tag_is(s.tag, SNAP_END_TAG)) {
			err = check_end(p, len, pos, &s, n, why, whylen);
			if (err)
				return err;
			r->buf = p;
			r->len = pos; /* the sections proper: find and next stop before the end */
			r->nsections = n;
			return 0;
		}
		if (++n > SNAP_MAX_SECTIONS)
			return refuse(why, whylen, "more than %d sections", SNAP_MAX_SECTIONS);
	}
	return refuse(why, whylen, "no end section: file truncated after %u sections", n);
}

int snap_reader_find(const struct snap_reader *r, const char *tag, uint32_t *version,
		     const void **data, size_t *len)
{
	struct raw_section s;

	if (!r->buf || !snap_tag_valid(tag) || !find_raw(r->buf, SNAP_HEADER_LEN, r->len, tag, &s))
		return -ENOENT;
	if (version)
		*version = s.version;
	if (data)
		*data = s.data;
	if (len)
		*len = (size_t)s.len;
	return 0;
}

bool snap_reader_next(const struct snap_reader *r, size_t *it, struct snap_section *sec)
{
	struct raw_section s;
	size_t pos = *it ? *it : SNAP_HEADER_LEN;

	if (!r->buf || pos >= r->len)
		return false;
	decode_section(r->buf + pos, &s);
	memcpy(sec->tag, s.tag, SNAP_TAG_LEN);
	sec->tag[SNAP_TAG_LEN] = '\0';
	sec->version = s.version;
	sec->data = s.data;
	sec->len = (size_t)s.len;
	*it = pos + SNAP_SECTION_HDR_LEN + (size_t)s.len;
	return true;
}

/* ---- cursor ---- */

void snap_cursor_put_init(struct snap_cursor *c, void *buf, size_t cap)
{
	*c = (struct snap_cursor){ .out = buf, .len = cap };
}

void snap_cursor_get_init(struct snap_cursor *c, const void *buf, size_t len)
{
	*c = (struct snap_cursor){ .in = buf, .len = len };
}

/* Room for @n more bytes in a put cursor, else mark it failed. */
static uint8_t *put_room(struct snap_cursor *c, size_t n)
{
	if (c->failed || !c->out || n > c->len - c->pos) {
		c->failed = true;
		return NULL;
	}
	c->pos += n;
	return c->out + c->pos - n;
}

static int put_le_n(struct snap_cursor *c, uint64_t v, int n)
{
	uint8_t *p = put_room(c, (size_t)n);

	if (!p)
		return -ENOSPC;
	put_le(p, v, n);
	return 0;
}

int snap_put_u8(struct snap_cursor *c, uint8_t v)
{
	return put_le_n(c, v, 1);
}

int snap_put_u16(struct snap_cursor *c, uint16_t v)
{
	return put_le_n(c, v, 2);
}

int snap_put_u32(struct snap_cursor *c, uint32_t v)
{
	return put_le_n(c, v, 4);
}

int snap_put_u64(struct snap_cursor *c, uint64_t v)
{
	return put_le_n(c, v, 8);
}

int snap_put_bytes(struct snap_cursor *c, const void *p, size_t n)
{
	uint8_t *dst = put_room(c, n);

	if (!dst)
		return -ENOSPC;
	if (n)
		memcpy(dst, p, n);
	return 0;
}

const void *snap_get_span(struct snap_cursor *c, size_t n)
{
	if (c->failed || !c->in || n > c->len - c->pos) {
		c->failed = true;
		return NULL;
	}
	c->pos += n;
	return c->in + c->pos - n;
}

static int get_le_n(struct snap_cursor *c, uint64_t *v, int n)
{
	const uint8_t *p = snap_get_span(c, (size_t)n);

	*v = p ? get_le(p, n) : 0;
	return p ? 0 : -EINVAL;
}

int snap_get_u8(struct snap_cursor *c, uint8_t *v)
{
	uint64_t x;
	int err = get_le_n(c, &x, 1);

	*v = (uint8_t)x;
	return err;
}

int snap_get_u16(struct snap_cursor *c, uint16_t *v)
{
	uint64_t x;
	int err = get_le_n(c, &x, 2);

	*v = (uint16_t)x;
	return err;
}

int snap_get_u32(struct snap_cursor *c, uint32_t *v)
{
	uint64_t x;
	int err = get_le_n(c, &x, 4);

	*v = (uint32_t)x;
	return err;
}

int snap_get_u64(struct snap_cursor *c, uint64_t *v)
{
	return get_le_n(c, v, 8);
}

int snap_get_bytes(struct snap_cursor *c, void *p, size_t n)
{
	const void *src = snap_get_span(c, n);

	if (!src) {
		if (n)
			memset(p, 0, n);
		return -EINVAL;
	}
	if (n)
		memcpy(p, src, n);
	return 0;
}

size_t snap_cursor_pos(const struct snap_cursor *c)
{
	return c->pos;
}

int snap_cursor_ok(const struct snap_cursor *c)
{
	if (!c->failed)
		return 0;
	return c->out ? -ENOSPC : -EINVAL;
}

int snap_cursor_done(const struct snap_cursor *c)
{
	return !c->failed && c->in && c->pos == c->len ? 0 : -EINVAL;
}
