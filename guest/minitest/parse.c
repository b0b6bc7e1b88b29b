/*
 * Hardware-independent parsing: kernel command line, e820 summary and
 * the Intel MP configuration table.  Inputs are plain byte buffers so
 * hosttest.c can feed them synthetic data.
 */
#include "minitest.h"

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * Find the first word "key=value" and copy value (truncated to fit).
 * A bare "key" yields an empty value.  Returns false if key is absent.
 */
bool cmdline_get(const char *cl, const char *key, char *out, size_t outsz)
{
	size_t klen = strlen(key);

	while (*cl) {
		const char *w = cl;
		size_t n = 0;

		while (*cl && !is_space(*cl))
			cl++;
		if (!strncmp(w, key, klen) && (w[klen] == '=' ||
		    w + klen == cl)) {
			const char *v = w + klen + (w[klen] == '=');

			while (v < cl && n + 1 < outsz)
				out[n++] = *v++;
			if (outsz)
				out[n] = '\0';
			return true;
		}
		while (is_space(*cl))
			cl++;
	}
	return false;
}

/* Decimal, or hex with a 0x prefix.  Rejects junk and overflow. */
bool parse_u64(const char *s, uint64_t *out)
{
	unsigned base = 10;
	uint64_t v = 0;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (!*s)
		return false;
	for (; *s; s++) {
		unsigned d;

		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			return false;
		if (v > (UINT64_MAX - d) / base)
			return false;
		v = v * base + d;
	}
	*out = v;
	return true;
}

void e820_summarize(const struct e820_entry *e, unsigned n,
		    struct ram_summary *out)
{
	out->total = 0;
	out->top = 0;
	for (unsigned i = 0; i < n; i++) {
		uint64_t end = e[i].addr + e[i].size;

		if (e[i].type != E820_RAM || !e[i].size)
			continue;
		out->total += e[i].size;
		if (end > out->top)
			out->top = end;
	}
}

uint8_t checksum8(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	while (len--)
		sum += *b++;
	return sum;
}

static uint32_t rd32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t rd16(const uint8_t *p)
{
	return p[0] | p[1] << 8;
}

/*
 * Offset of a valid MP floating pointer ("_MP_", 16-byte aligned,
 * length 1 paragraph, checksum 0) within base[0..len), or -1.
 */
long mp_find_fp(const uint8_t *base, size_t len)
{
	for (size_t off = 0; off + 16 <= len; off += 16) {
		const uint8_t *p = base + off;

		if (memcmp(p, "_MP_", 4) || p[8] != 1)
			continue;
		if (checksum8(p, 16) == 0)
			return (long)off;
	}
	return -1;
}

enum {
	MP_PROCESSOR = 0,
	MP_BUS = 1,
	MP_IOAPIC = 2,
	MP_IOINT = 3,
	MP_LINT = 4,
};

static void mp_add_cpu(const uint8_t *e, struct mp_info *mp)
{
	if (!(e[3] & 1) || mp->ncpus >= MAX_CPUS)	/* disabled, or full */
		return;
	mp->apic_id[mp->ncpus] = e[1];
	mp->bsp[mp->ncpus] = e[3] & 2;
	mp->ncpus++;
}

/* Entry size by type, 0 for unknown (which stops the walk). */
static size_t mp_entry_len(uint8_t type)
{
	if (type == MP_PROCESSOR)
		return 20;
	if (type <= MP_LINT)
		return 8;
	return 0;
}

/* Second pass: which IOAPIC input carries ISA IRQ 4 (COM1)? */
static void mp_find_irq4(const uint8_t *e, const uint8_t *end, int isa_bus,
			 struct mp_info *mp)
{
	while (e < end && mp_entry_len(e[0]) && e + mp_entry_len(e[0]) <= end) {
		if (e[0] == MP_IOINT && e[1] == 0 && e[4] == isa_bus &&
		    e[5] == 4 && e[6] == mp->ioapic_id) {
			mp->isa_irq4_pin = e[7];
			return;
		}
		e += mp_entry_len(e[0]);
	}
}

/*
 * Parse an MP configuration table ("PCMP") of at most avail bytes.
 * Returns false if the signature, length or checksum is wrong.
 */
bool mp_parse_config(const uint8_t *cfg, size_t avail, struct mp_info *mp)
{
	size_t len;
	const uint8_t *e, *end;
	int isa_bus = -1;

	memset(mp, 0, sizeof(*mp));
	mp->isa_irq4_pin = 4;
	if (avail < 44 || memcmp(cfg, "PCMP", 4))
		return false;
	len = rd16(cfg + 4);
	if (len < 44 || len > avail || checksum8(cfg, len))
		return false;
	mp->lapic_addr = rd32(cfg + 36);
	e = cfg + 44;
	end = cfg + len;
	/*
	 * Walk by the table length, not the entry count (offset 34): like
	 * Linux, since some firmware (qboot) leaves the count at zero.
	 */
	while (e < end) {
		size_t elen = mp_entry_len(e[0]);

		if (!elen || e + elen > end)
			break;
		if (e[0] == MP_PROCESSOR)
			mp_add_cpu(e, mp);
		else if (e[0] == MP_BUS && !memcmp(e + 2, "ISA", 3))
			isa_bus = e[1];
		else if (e[0] == MP_IOAPIC && (e[3] & 1) && !mp->ioapic_addr) {
			mp->ioapic_id = e[1];
			mp->ioapic_addr = rd32(e + 4);
		}
		e += elen;
	}
	if (isa_bus >= 0)
		mp_find_irq4(cfg + 44, end, isa_bus, mp);
	return true;
}
