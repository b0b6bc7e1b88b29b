/*
 * The snapshot `state` file: a header, then tagged sections, each with its own
 * version and CRC-32, then an end section. docs/snapshot-format.md has it byte
 * by byte. Everything is little-endian and serialized field by field, so a
 * file written on one build reads the same on another.
 */
#ifndef MINIVMM_SNAPSHOT_FORMAT_H
#define MINIVMM_SNAPSHOT_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SNAP_MAGIC "MVMMSNAP"
#define SNAP_MAGIC_LEN 8
#define SNAP_FORMAT_VERSION 1
#define SNAP_HEADER_LEN 16	   /* magic, u32 format version, u32 flags */
#define SNAP_SECTION_HDR_LEN 32 /* tag[16], u32 version, u64 length, u32 crc */
#define SNAP_TAG_LEN 16		   /* on disk: 1-16 characters, NUL-padded (no NUL if 16) */
#define SNAP_END_TAG "end"	   /* reserved: callers cannot write it */
#define SNAP_END_VERSION 1
#define SNAP_END_LEN 8		   /* u32 section count, u32 CRC of every byte before */
/* More than any VM has (vCPUs + devices + a few); bounds the reader's work. */
#define SNAP_MAX_SECTIONS 1024

/* CRC-32 (IEEE 802.3, as zlib's crc32): start with crc = 0, feed pieces in order. */
uint32_t snap_crc32(uint32_t crc, const void *buf, size_t len);

/* A tag is 1-16 characters of [A-Za-z0-9._-]; true if @tag is one. */
bool snap_tag_valid(const char *tag);

/* ---- writing a state file into memory ---- */

struct snap_writer {
	uint8_t *buf;
	size_t len, cap;
	unsigned nsections;
	bool finished;
};

void snap_writer_init(struct snap_writer *w);
/*
 * Append one section. -EINVAL for an invalid, reserved ("end") or repeated tag
 * or after finish, -E2BIG past SNAP_MAX_SECTIONS, -ENOMEM; the writer is
 * unchanged by a refused call.
 */
int snap_write_section(struct snap_writer *w, const char *tag, uint32_t version,
		       const void *data, size_t len);
/*
 * Append the end section and hand out the whole file. The buffer stays owned
 * by the writer (valid until snap_writer_free); no section may follow.
 */
int snap_writer_finish(struct snap_writer *w, const void **buf, size_t *len);
void snap_writer_free(struct snap_writer *w);

/* ---- reading a whole state file from memory ---- */

struct snap_reader {
	const uint8_t *buf;
	size_t len;
	unsigned nsections; /* not counting the end section */
};

struct snap_section {
	char tag[SNAP_TAG_LEN + 1]; /* NUL-terminated */
	uint32_t version;
	const void *data; /* inside the reader's buffer; not aligned */
	size_t len;
};

/*
 * Check the whole file before anything is used: magic, format version, flags,
 * every section in bounds with a valid tag and a matching CRC, no tag twice, an
 * end section whose count and CRC match, nothing after it. 0, or -EINVAL with a
 * one-line reason in @why. @buf must outlive the reader (nothing is copied).
 */
int snap_reader_open(struct snap_reader *r, const void *buf, size_t len, char *why,
		     size_t whylen);
/* 0 and the section's version, data and length, or -ENOENT. */
int snap_reader_find(const struct snap_reader *r, const char *tag, uint32_t *version,
		     const void **data, size_t *len);
/*
 * Every section in file order, end section excluded:
 *	size_t it = 0; struct snap_section s; while (snap_reader_next(r, &it, &s)) ...
 * so that a restore can refuse sections it does not know.
 */
bool snap_reader_next(const struct snap_reader *r, size_t *it, struct snap_section *s);

/* ---- building and parsing one section's payload, field by field ---- */

/*
 * A cursor over a caller's buffer: put_* append (a put cursor), get_* consume
 * (a get cursor). A call that would run past the end fails, writes nothing,
 * and makes every later call fail too, so a sequence of calls can be checked
 * once at the end with snap_cursor_ok / snap_cursor_done.
 */
struct snap_cursor {
	uint8_t *out;	   /* put cursor: NULL for a get cursor */
	const uint8_t *in; /* get cursor: NULL for a put cursor */
	size_t len;	   /* capacity (put) or data length (get) */
	size_t pos;
	bool failed;
};

void snap_cursor_put_init(struct snap_cursor *c, void *buf, size_t cap);
void snap_cursor_get_init(struct snap_cursor *c, const void *buf, size_t len);

/* 0, or -ENOSPC if the buffer is full (or this is not a put cursor, or failed before). */
int snap_put_u8(struct snap_cursor *c, uint8_t v);
int snap_put_u16(struct snap_cursor *c, uint16_t v);
int snap_put_u32(struct snap_cursor *c, uint32_t v);
int snap_put_u64(struct snap_cursor *c, uint64_t v);
int snap_put_bytes(struct snap_cursor *c, const void *p, size_t n);

/* 0, or -EINVAL past the end (or not a get cursor, or failed before); then *v is 0. */
int snap_get_u8(struct snap_cursor *c, uint8_t *v);
int snap_get_u16(struct snap_cursor *c, uint16_t *v);
int snap_get_u32(struct snap_cursor *c, uint32_t *v);
int snap_get_u64(struct snap_cursor *c, uint64_t *v);
int snap_get_bytes(struct snap_cursor *c, void *p, size_t n);
/* @n bytes in place (not aligned), or NULL past the end. */
const void *snap_get_span(struct snap_cursor *c, size_t n);

/* Bytes put or consumed so far. */
size_t snap_cursor_pos(const struct snap_cursor *c);
/* 0 if no call failed, else -ENOSPC (put) or -EINVAL (get). */
int snap_cursor_ok(const struct snap_cursor *c);
/* For a get cursor: 0 if no call failed and every byte was consumed, else -EINVAL. */
int snap_cursor_done(const struct snap_cursor *c);

#endif
