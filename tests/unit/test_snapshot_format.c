/*
 * The snapshot state file: CRC-32, writer and reader round trips, the exact
 * bytes, every way a damaged file must be refused (with a reason), and the
 * payload cursor.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "../../vmm/snapshot_format.h"

static void le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t rd32(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A hand-made file, for what the writer will not produce. */
struct raw {
	uint8_t buf[4096];
	size_t len;
	unsigned n;
};

static void raw_header(struct raw *f, uint32_t version, uint32_t flags)
{
	memcpy(f->buf, SNAP_MAGIC, 8);
	le32(f->buf + 8, version);
	le32(f->buf + 12, flags);
	f->len = SNAP_HEADER_LEN;
	f->n = 0;
}

/* @tag is copied as 16 raw bytes. */
static void raw_section(struct raw *f, const char tag[16], uint32_t version, const void *data,
			size_t len)
{
	uint8_t *p = f->buf + f->len;

	memcpy(p, tag, 16);
	le32(p + 16, version);
	le64(p + 20, len);
	le32(p + 28, snap_crc32(0, data, len));
	memcpy(p + 32, data, len);
	f->len += 32 + len;
	f->n++;
}

static void raw_end(struct raw *f)
{
	uint8_t end[8];
	char tag[16] = "end";

	le32(end, f->n);
	le32(end + 4, snap_crc32(0, f->buf, f->len));
	raw_section(f, tag, SNAP_END_VERSION, end, sizeof(end));
}

static int open_raw(const struct raw *f, char *why, size_t whylen)
{
	struct snap_reader r;

	return snap_reader_open(&r, f->buf, f->len, why, whylen);
}

/* Refused, with a reason that mentions @word. */
static void assert_refused(const void *buf, size_t len, const char *word)
{
	struct snap_reader r;
	char why[160] = "";

	assert_int_equal(snap_reader_open(&r, buf, len, why, sizeof(why)), -EINVAL);
	assert_true(why[0] != '\0');
	if (word && !strstr(why, word))
		fail_msg("reason \"%s\" does not mention \"%s\"", why, word);
}

static const char *const tags[] = { "vcpu.0",  "vcpu.1",     "irqchip", "pit",
				    "clock",   "dev.serial", "config",  "dev.virtio-blk.0" };

/* A file with one section per tag; section i holds i * 7 bytes of pattern and has version i + 1. */
static void build_sample(struct snap_writer *w, const void **buf, size_t *len)
{
	uint8_t data[64];

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 37 + 1);
	snap_writer_init(w);
	for (size_t i = 0; i < ARRAY_SIZE(tags); i++)
		assert_int_equal(snap_write_section(w, tags[i], (uint32_t)i + 1, data, i * 7), 0);
	assert_int_equal(snap_writer_finish(w, buf, len), 0);
}

static void test_crc32(void **state)
{
	(void)state;
	assert_int_equal(snap_crc32(0, "123456789", 9), 0xcbf43926);
	assert_int_equal(snap_crc32(0, "", 0), 0);
	assert_int_equal(snap_crc32(snap_crc32(0, "1234", 4), "56789", 5), 0xcbf43926);
	assert_int_equal(snap_crc32(0, "The quick brown fox jumps over the lazy dog", 43), 0x414fa339);
}

static void test_round_trip(void **state)
{
	struct snap_writer w;
	struct snap_reader r;
	struct snap_section s;
	const void *buf, *data;
	size_t len, dlen, it = 0, i = 0;
	uint32_t version;
	char why[128];

	(void)state;
	build_sample(&w, &buf, &len);
	assert_int_equal(snap_reader_open(&r, buf, len, why, sizeof(why)), 0);
	assert_int_equal(r.nsections, ARRAY_SIZE(tags));
	for (i = 0; i < ARRAY_SIZE(tags); i++) {
		assert_int_equal(snap_reader_find(&r, tags[i], &version, &data, &dlen), 0);
		assert_int_equal(version, i + 1);
		assert_int_equal(dlen, i * 7);
		for (size_t k = 0; k < dlen; k++)
			assert_int_equal(((const uint8_t *)data)[k], (uint8_t)(k * 37 + 1));
	}
	assert_int_equal(snap_reader_find(&r, "dev.absent", &version, &data, &dlen), -ENOENT);
	assert_int_equal(snap_reader_find(&r, "end", &version, &data, &dlen), -ENOENT);
	assert_int_equal(snap_reader_find(&r, "vcpu", NULL, NULL, NULL), -ENOENT);
	assert_int_equal(snap_reader_find(&r, "bad tag", NULL, NULL, NULL), -ENOENT);
	/* In file order, the end section left out. */
	for (i = 0; snap_reader_next(&r, &it, &s); i++) {
		assert_true(i < ARRAY_SIZE(tags));
		assert_string_equal(s.tag, tags[i]);
		assert_int_equal(s.version, i + 1);
		assert_int_equal(s.len, i * 7);
	}
	assert_int_equal(i, ARRAY_SIZE(tags));
	snap_writer_free(&w);
}

static void test_no_sections(void **state)
{
	struct snap_writer w;
	struct snap_reader r;
	struct snap_section s;
	const void *buf;
	size_t len, it = 0;

	(void)state;
	snap_writer_init(&w);
	assert_int_equal(snap_writer_finish(&w, &buf, &len), 0);
	assert_int_equal(len, SNAP_HEADER_LEN + SNAP_SECTION_HDR_LEN + SNAP_END_LEN);
	assert_int_equal(snap_reader_open(&r, buf, len, NULL, 0), 0);
	assert_int_equal(snap_reader_find(&r, "clock", NULL, NULL, NULL), -ENOENT);
	assert_false(snap_reader_next(&r, &it, &s));
	snap_writer_free(&w);
}

/* The documented layout, byte by byte. */
static void test_exact_bytes(void **state)
{
	static const uint8_t data[3] = { 0xaa, 0xbb, 0xcc };
	struct snap_writer w;
	const uint8_t *p;
	const void *buf;
	size_t len;

	(void)state;
	snap_writer_init(&w);
	assert_int_equal(snap_write_section(&w, "pit", 0x01020304, data, sizeof(data)), 0);
	assert_int_equal(snap_writer_finish(&w, &buf, &len), 0);
	p = buf;
	assert_int_equal(len, 16 + 32 + 3 + 32 + 8);
	assert_memory_equal(p, "MVMMSNAP\x01\0\0\0\0\0\0\0", 16);
	assert_memory_equal(p + 16, "pit\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
	assert_memory_equal(p + 32, "\x04\x03\x02\x01", 4);
	assert_memory_equal(p + 36, "\x03\0\0\0\0\0\0\0", 8);
	assert_int_equal(rd32(p + 44), snap_crc32(0, data, 3));
	assert_memory_equal(p + 48, data, 3);
	assert_memory_equal(p + 51, "end\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
	assert_int_equal(rd32(p + 67), 1);
	assert_memory_equal(p + 71, "\x08\0\0\0\0\0\0\0", 8);
	assert_int_equal(rd32(p + 79), snap_crc32(0, p + 83, 8));
	assert_int_equal(rd32(p + 83), 1);		       /* sections before the end */
	assert_int_equal(rd32(p + 87), snap_crc32(0, p, 51)); /* every byte before the end */
	snap_writer_free(&w);
}

static void test_writer_refusals(void **state)
{
	struct snap_writer w;
	struct snap_reader r;
	const void *buf;
	size_t len;

	(void)state;
	snap_writer_init(&w);
	assert_int_equal(snap_write_section(&w, "clock", 1, "x", 1), 0);
	assert_int_equal(snap_write_section(&w, "", 1, "x", 1), -EINVAL);
	assert_int_equal(snap_write_section(&w, "0123456789abcdefg", 1, "x", 1), -EINVAL);
	assert_int_equal(snap_write_section(&w, "0123456789abcdef", 1, "x", 1), 0); /* 16: fits */
	assert_int_equal(snap_write_section(&w, "dev serial", 1, "x", 1), -EINVAL);
	assert_int_equal(snap_write_section(&w, "dev/serial", 1, "x", 1), -EINVAL);
	assert_int_equal(snap_write_section(&w, "end", 1, "x", 1), -EINVAL);
	assert_int_equal(snap_write_section(&w, "clock", 2, "y", 1), -EINVAL);
	assert_int_equal(snap_write_section(&w, "null", 1, NULL, 4), -EINVAL);
	assert_int_equal(snap_write_section(&w, "empty", 1, NULL, 0), 0);
	assert_int_equal(snap_writer_finish(&w, &buf, &len), 0);
	assert_int_equal(snap_write_section(&w, "late", 1, "x", 1), -EINVAL);
	assert_int_equal(snap_writer_finish(&w, &buf, &len), -EINVAL);
	/* What was refused left no trace. */
	assert_int_equal(snap_reader_open(&r, buf, len, NULL, 0), 0);
	assert_int_equal(r.nsections, 3);
	snap_writer_free(&w);
}

static void test_section_limit(void **state)
{
	struct snap_writer w;
	struct snap_reader r;
	const void *buf;
	size_t len;
	char tag[16];

	(void)state;
	snap_writer_init(&w);
	for (int i = 0; i < SNAP_MAX_SECTIONS; i++) {
		snprintf(tag, sizeof(tag), "s%d", i);
		assert_int_equal(snap_write_section(&w, tag, 1, NULL, 0), 0);
	}
	assert_int_equal(snap_write_section(&w, "one.more", 1, NULL, 0), -E2BIG);
	assert_int_equal(snap_writer_finish(&w, &buf, &len), 0);
	assert_int_equal(snap_reader_open(&r, buf, len, NULL, 0), 0);
	assert_int_equal(snap_reader_find(&r, "s1023", NULL, NULL, NULL), 0);
	snap_writer_free(&w);
}

/* Every data byte of every section, and the end section's, flipped in turn. */
static void test_crc_mismatch(void **state)
{
	struct snap_writer w;
	const void *buf;
	size_t len, pos = SNAP_HEADER_LEN;
	uint8_t *copy;
	int flipped = 0;

	(void)state;
	build_sample(&w, &buf, &len);
	copy = malloc(len);
	assert_non_null(copy);
	while (pos < len) {
		uint64_t dlen = rd32((const uint8_t *)buf + pos + 20);

		for (uint64_t k = 0; k < dlen; k++) {
			memcpy(copy, buf, len);
			copy[pos + 32 + k] ^= 0x10;
			assert_refused(copy, len, "CRC mismatch");
			flipped++;
		}
		pos += 32 + dlen;
	}
	assert_true(flipped > 100);
	free(copy);
	snap_writer_free(&w);
}

/* Damage outside the data (a version, the header's reserved bytes) is caught by the file CRC. */
static void test_header_damage(void **state)
{
	struct snap_writer w;
	const void *buf;
	size_t len;
	uint8_t *copy;

	(void)state;
	build_sample(&w, &buf, &len);
	copy = malloc(len);
	assert_non_null(copy);
	memcpy(copy, buf, len);
	copy[SNAP_HEADER_LEN + 16] ^= 1; /* first section's version */
	assert_refused(copy, len, "file CRC");
	memcpy(copy, buf, len);
	copy[SNAP_HEADER_LEN + 1] = 'X'; /* "vcpu.0" -> "vXpu.0": still a valid tag */
	assert_refused(copy, len, "file CRC");
	memcpy(copy, buf, len);
	copy[0] = 'm';
	assert_refused(copy, len, "magic");
	memcpy(copy, buf, len);
	copy[8] = 2;
	assert_refused(copy, len, "version 2");
	memcpy(copy, buf, len);
	copy[8] = 0;
	assert_refused(copy, len, "version 0");
	memcpy(copy, buf, len);
	copy[15] = 0x80;
	assert_refused(copy, len, "flags");
	free(copy);
	snap_writer_free(&w);
}

static void test_truncation(void **state)
{
	struct snap_writer w;
	const void *buf;
	size_t len;

	(void)state;
	build_sample(&w, &buf, &len);
	for (size_t cut = 0; cut < len; cut++) {
		/* A copy of exactly @cut bytes, so ASan sees any read past it. */
		uint8_t *copy = malloc(cut ? cut : 1);

		assert_non_null(copy);
		memcpy(copy, buf, cut);
		assert_refused(copy, cut, NULL);
		free(copy);
	}
	assert_refused(buf, 0, "truncated");
	assert_refused(buf, SNAP_HEADER_LEN, "no end section");
	assert_refused(buf, SNAP_HEADER_LEN + 10, "truncated at offset 16");
	assert_refused(buf, SNAP_HEADER_LEN + 32 + 32 + 3, "overruns"); /* into vcpu.1's 7 bytes */
	snap_writer_free(&w);
}

static void test_overlong_length(void **state)
{
	static const uint64_t lens[] = { 5, 6, 1000, 1ULL << 32, 1ULL << 63, UINT64_MAX };
	struct raw f;
	char why[160];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(lens); i++) {
		raw_header(&f, 1, 0);
		raw_section(&f, "pit\0\0\0\0\0\0\0\0\0\0\0\0", 1, "abcd", 4);
		raw_end(&f);
		/* pit's 4 bytes claimed as more: past the end section, past the file, past memory. */
		le64(f.buf + SNAP_HEADER_LEN + 20, lens[i] + 36 + 8 - 4 + 1);
		assert_refused(f.buf, f.len, NULL);
		le64(f.buf + SNAP_HEADER_LEN + 20, lens[i] > 5 ? lens[i] : 5);
		assert_int_equal(open_raw(&f, why, sizeof(why)), -EINVAL);
	}
	raw_header(&f, 1, 0);
	raw_section(&f, "pit\0\0\0\0\0\0\0\0\0\0\0\0", 1, "abcd", 4);
	le64(f.buf + SNAP_HEADER_LEN + 20, UINT64_MAX);
	assert_refused(f.buf, f.len, "overruns");
}

static void test_duplicate_tag(void **state)
{
	struct raw f;

	(void)state;
	raw_header(&f, 1, 0);
	raw_section(&f, "clock\0\0\0\0\0\0\0\0\0\0", 1, "a", 1);
	raw_section(&f, "pit\0\0\0\0\0\0\0\0\0\0\0\0", 1, "b", 1);
	raw_section(&f, "clock\0\0\0\0\0\0\0\0\0\0", 2, "cc", 2);
	raw_end(&f);
	assert_refused(f.buf, f.len, "twice");
	/* A full 16-character tag has no NUL on disk; the reason must still print it whole. */
	raw_header(&f, 1, 0);
	raw_section(&f, "dev.virtio-blk.0", 1, "a", 1);
	raw_section(&f, "dev.virtio-blk.0", 1, "a", 1);
	raw_end(&f);
	assert_refused(f.buf, f.len, "\"dev.virtio-blk.0\" appears twice");
	/* Two end sections: the first ends the file, the second is junk. */
	raw_header(&f, 1, 0);
	raw_end(&f);
	raw_end(&f);
	assert_refused(f.buf, f.len, "trailing junk");
}

static void test_bad_tags_on_disk(void **state)
{
	static const char bad[][16] = {
		"\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0",	   /* empty */
		"ab\0cd\0\0\0\0\0\0\0\0\0\0",	   /* junk after the NUL */
		"dev serial\0\0\0\0\0",	   /* a space */
		{ 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', ' ' },
		"\xff\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
	};
	struct raw f;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		raw_header(&f, 1, 0);
		raw_section(&f, bad[i], 1, "a", 1);
		raw_end(&f);
		assert_refused(f.buf, f.len, "malformed tag");
	}
}

static void test_end_section(void **state)
{
	struct raw f;
	char why[160];

	(void)state;
	raw_header(&f, 1, 0);
	raw_section(&f, "pit\0\0\0\0\0\0\0\0\0\0\0\0", 1, "abcd", 4);
	assert_refused(f.buf, f.len, "no end section");
	raw_end(&f);
	assert_int_equal(open_raw(&f, why, sizeof(why)), 0);
	/* Trailing junk, one byte or a whole section. */
	f.buf[f.len] = 0;
	assert_refused(f.buf, f.len + 1, "1 bytes of trailing junk");
	raw_section(&f, "late\0\0\0\0\0\0\0\0\0\0\0", 1, "x", 1);
	assert_refused(f.buf, f.len, "trailing junk");
	/* A wrong count. */
	raw_header(&f, 1, 0);
	raw_section(&f, "pit\0\0\0\0\0\0\0\0\0\0\0\0", 1, "abcd", 4);
	f.n = 5;
	raw_end(&f);
	assert_refused(f.buf, f.len, "counts 5");
	/* A wrong version or length. */
	raw_header(&f, 1, 0);
	raw_section(&f, "end\0\0\0\0\0\0\0\0\0\0\0\0", 2, "\0\0\0\0\0\0\0\0", 8);
	assert_refused(f.buf, f.len, "end section");
	raw_header(&f, 1, 0);
	raw_section(&f, "end\0\0\0\0\0\0\0\0\0\0\0\0", 1, "\0\0\0\0", 4);
	assert_refused(f.buf, f.len, "end section");
}

static void test_reader_unopened(void **state)
{
	struct snap_reader r = { 0 };
	struct snap_section s;
	size_t it = 0;

	(void)state;
	assert_int_equal(snap_reader_find(&r, "pit", NULL, NULL, NULL), -ENOENT);
	assert_false(snap_reader_next(&r, &it, &s));
	/* A failed open leaves the reader like that. */
	assert_int_equal(snap_reader_open(&r, "MVMMSNAP", 8, NULL, 0), -EINVAL);
	assert_int_equal(snap_reader_find(&r, "pit", NULL, NULL, NULL), -ENOENT);
}

static void test_cursor_round_trip(void **state)
{
	uint8_t buf[32], bytes[3];
	struct snap_cursor c;
	uint8_t v8;
	uint16_t v16;
	uint32_t v32;
	uint64_t v64;
	const uint8_t *span;

	(void)state;
	snap_cursor_put_init(&c, buf, sizeof(buf));
	assert_int_equal(snap_put_u8(&c, 0x12), 0);
	assert_int_equal(snap_put_u16(&c, 0x3456), 0);
	assert_int_equal(snap_put_u32(&c, 0x789abcde), 0);
	assert_int_equal(snap_put_u64(&c, 0x0123456789abcdefULL), 0);
	assert_int_equal(snap_put_bytes(&c, "xyz", 3), 0);
	assert_int_equal(snap_put_bytes(&c, NULL, 0), 0);
	assert_int_equal(snap_cursor_ok(&c), 0);
	assert_int_equal(snap_cursor_pos(&c), 18);
	assert_memory_equal(buf, "\x12\x56\x34\xde\xbc\x9a\x78\xef\xcd\xab\x89\x67\x45\x23\x01xyz", 18);

	snap_cursor_get_init(&c, buf, 18);
	assert_int_equal(snap_get_u8(&c, &v8), 0);
	assert_int_equal(v8, 0x12);
	assert_int_equal(snap_get_u16(&c, &v16), 0);
	assert_int_equal(v16, 0x3456);
	assert_int_equal(snap_get_u32(&c, &v32), 0);
	assert_int_equal(v32, 0x789abcde);
	assert_int_equal(snap_get_u64(&c, &v64), 0);
	assert_true(v64 == 0x0123456789abcdefULL);
	assert_int_equal(snap_cursor_done(&c), -EINVAL); /* 3 bytes left */
	span = snap_get_span(&c, 2);
	assert_ptr_equal(span, buf + 15);
	assert_int_equal(snap_get_bytes(&c, bytes, 1), 0);
	assert_int_equal(bytes[0], 'z');
	assert_int_equal(snap_cursor_done(&c), 0);
	assert_int_equal(snap_cursor_ok(&c), 0);
}

static void test_cursor_put_overflow(void **state)
{
	uint8_t buf[8];
	struct snap_cursor c;

	(void)state;
	memset(buf, 0xee, sizeof(buf));
	snap_cursor_put_init(&c, buf, 6);
	assert_int_equal(snap_put_u32(&c, 1), 0);
	assert_int_equal(snap_put_u32(&c, 2), -ENOSPC); /* 2 bytes left: nothing written */
	assert_int_equal(buf[4], 0xee);
	assert_int_equal(snap_put_u8(&c, 3), -ENOSPC);	/* would fit, but the cursor failed */
	assert_int_equal(snap_cursor_ok(&c), -ENOSPC);
	assert_int_equal(snap_cursor_pos(&c), 4);
	snap_cursor_put_init(&c, buf, 4);
	assert_int_equal(snap_put_bytes(&c, "abcde", 5), -ENOSPC);
	snap_cursor_put_init(&c, buf, 4);
	assert_int_equal(snap_put_bytes(&c, "abcd", SIZE_MAX), -ENOSPC);
	/* A get cursor cannot be written. */
	snap_cursor_get_init(&c, buf, sizeof(buf));
	assert_int_equal(snap_put_u8(&c, 1), -ENOSPC);
}

static void test_cursor_get_past_end(void **state)
{
	static const uint8_t in[5] = { 1, 2, 3, 4, 5 };
	struct snap_cursor c;
	uint8_t out[8], v8 = 0xff;
	uint16_t v16 = 0xffff;
	uint32_t v32 = 0xffffffff;
	uint64_t v64 = 1;

	(void)state;
	snap_cursor_get_init(&c, in, sizeof(in));
	assert_int_equal(snap_get_u32(&c, &v32), 0);
	assert_int_equal(snap_get_u16(&c, &v16), -EINVAL);
	assert_int_equal(v16, 0);
	assert_int_equal(snap_get_u8(&c, &v8), -EINVAL); /* the byte is there, but sticky */
	assert_int_equal(v8, 0);
	assert_int_equal(snap_cursor_ok(&c), -EINVAL);
	assert_int_equal(snap_cursor_done(&c), -EINVAL);

	snap_cursor_get_init(&c, in, sizeof(in));
	assert_int_equal(snap_get_u64(&c, &v64), -EINVAL);
	assert_true(v64 == 0);
	snap_cursor_get_init(&c, in, sizeof(in));
	memset(out, 0x55, sizeof(out));
	assert_int_equal(snap_get_bytes(&c, out, 6), -EINVAL);
	assert_int_equal(out[0], 0);
	snap_cursor_get_init(&c, in, sizeof(in));
	assert_null(snap_get_span(&c, SIZE_MAX));
	snap_cursor_get_init(&c, in, sizeof(in));
	assert_non_null(snap_get_span(&c, 5));
	assert_null(snap_get_span(&c, 1));
	snap_cursor_get_init(&c, NULL, 0);
	assert_int_equal(snap_cursor_done(&c), -EINVAL); /* not a get cursor at all */
	snap_cursor_get_init(&c, in, 0);
	assert_int_equal(snap_cursor_done(&c), 0);
	assert_int_equal(snap_get_u8(&c, &v8), -EINVAL);
	/* A put cursor cannot be read. */
	snap_cursor_put_init(&c, out, sizeof(out));
	assert_int_equal(snap_get_u8(&c, &v8), -EINVAL);
}

/* A device's payload through the cursor into a section and back. */
static void test_cursor_in_section(void **state)
{
	uint8_t payload[64];
	struct snap_cursor c;
	struct snap_writer w;
	struct snap_reader r;
	const void *buf, *data;
	size_t len, dlen;
	uint32_t version, regs[4];

	(void)state;
	snap_cursor_put_init(&c, payload, sizeof(payload));
	for (uint32_t i = 0; i < 4; i++)
		snap_put_u32(&c, 0x1000 + i);
	snap_put_u64(&c, 42);
	assert_int_equal(snap_cursor_ok(&c), 0);
	snap_writer_init(&w);
	assert_int_equal(snap_write_section(&w, "dev.serial", 3, payload, snap_cursor_pos(&c)), 0);
	assert_int_equal(snap_writer_finish(&w, &buf, &len), 0);
	assert_int_equal(snap_reader_open(&r, buf, len, NULL, 0), 0);
	assert_int_equal(snap_reader_find(&r, "dev.serial", &version, &data, &dlen), 0);
	assert_int_equal(version, 3);
	snap_cursor_get_init(&c, data, dlen);
	for (int i = 0; i < 4; i++)
		snap_get_u32(&c, &regs[i]);
	uint64_t x;

	snap_get_u64(&c, &x);
	assert_int_equal(snap_cursor_done(&c), 0);
	assert_int_equal(regs[3], 0x1003);
	assert_int_equal(x, 42);
	snap_writer_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_no_sections),
		cmocka_unit_test(test_exact_bytes),
		cmocka_unit_test(test_writer_refusals),
		cmocka_unit_test(test_section_limit),
		cmocka_unit_test(test_crc_mismatch),
		cmocka_unit_test(test_header_damage),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_overlong_length),
		cmocka_unit_test(test_duplicate_tag),
		cmocka_unit_test(test_bad_tags_on_disk),
		cmocka_unit_test(test_end_section),
		cmocka_unit_test(test_reader_unopened),
		cmocka_unit_test(test_cursor_round_trip),
		cmocka_unit_test(test_cursor_put_overflow),
		cmocka_unit_test(test_cursor_get_past_end),
		cmocka_unit_test(test_cursor_in_section),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
