/*
 * libFuzzer target: snap_reader_open on the input as a state file. A refusal
 * must come with a reason; an accepted file must have every section findable,
 * walk within the input, and re-encode through the writer to exactly the
 * input (the format is canonical, so anything else means the reader accepted
 * something the writer cannot produce). Each section's data is also read
 * through a cursor, field by field, past its end.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../vmm/snapshot_format.h"

#define CHECK(cond)                                                              \
	do {                                                                     \
		if (!(cond)) {                                                   \
			fprintf(stderr, "%s:%d: %s does not hold\n", __FILE__,   \
				__LINE__, #cond);                                \
			abort();                                                 \
		}                                                                \
	} while (0)

static bool inside(const void *p, size_t n, const uint8_t *buf, size_t len)
{
	const uint8_t *q = p;

	return q >= buf && q <= buf + len && n <= (size_t)(buf + len - q);
}

/* Consume @data as a device would: a u8 picks the next field's width, until the cursor fails. */
static void read_fields(const void *data, size_t len)
{
	struct snap_cursor c;
	uint8_t kind = 0, b[16];
	uint64_t v64;
	uint32_t v32;
	uint16_t v16;

	snap_cursor_get_init(&c, data, len);
	while (snap_get_u8(&c, &kind) == 0) {
		switch (kind % 5) {
		case 0: snap_get_u16(&c, &v16); break;
		case 1: snap_get_u32(&c, &v32); break;
		case 2: snap_get_u64(&c, &v64); break;
		case 3: snap_get_bytes(&c, b, kind % sizeof(b)); break;
		default: snap_get_span(&c, kind); break;
		}
		CHECK(snap_cursor_pos(&c) <= len);
	}
	CHECK(snap_cursor_ok(&c) != 0 || snap_cursor_pos(&c) == len);
}

static void check_accepted(const struct snap_reader *r, const uint8_t *in, size_t size)
{
	struct snap_writer w;
	struct snap_section s;
	const void *out, *data;
	size_t out_len, it = 0, len;
	unsigned n = 0;
	uint32_t version;

	snap_writer_init(&w);
	while (snap_reader_next(r, &it, &s)) {
		CHECK(snap_tag_valid(s.tag) && strcmp(s.tag, SNAP_END_TAG) != 0);
		CHECK(inside(s.data, s.len, in, size));
		CHECK(snap_reader_find(r, s.tag, &version, &data, &len) == 0);
		CHECK(version == s.version && data == s.data && len == s.len);
		read_fields(s.data, s.len);
		CHECK(snap_write_section(&w, s.tag, s.version, s.data, s.len) == 0);
		n++;
	}
	CHECK(n == r->nsections);
	CHECK(snap_writer_finish(&w, &out, &out_len) == 0);
	CHECK(out_len == size && memcmp(out, in, size) == 0);
	snap_writer_free(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const tags[] = { "vcpu.0", "irqchip", "pit", "clock", "config",
					    "dev.0", "end", "dev.virtio-blk.0" };
	struct snap_reader r;
	char why[128];

	memset(why, 0x55, sizeof(why));
	if (snap_reader_open(&r, data, size, why, sizeof(why)) != 0) {
		CHECK(memchr(why, '\0', sizeof(why)) != NULL && why[0] != '\0');
		CHECK(snap_reader_find(&r, "pit", NULL, NULL, NULL) == -ENOENT);
		return 0;
	}
	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		const void *p;
		size_t len;

		if (snap_reader_find(&r, tags[i], NULL, &p, &len) == 0)
			CHECK(inside(p, len, data, size));
	}
	check_accepted(&r, data, size);
	return 0;
}
