/*
 * Hardware-independent ACPI parsing: RSDP validation, the MADT, two
 * byte-pattern scans of the DSDT (virtio-mmio devices and \_S5), and the
 * virtio_mmio.device= command line form.  Plain byte buffers in, so
 * hosttest.c can feed them synthetic tables.
 *
 * The DSDT scans are not an AML interpreter: they find a known name
 * string and decode the few bytes after it, which is enough for the flat
 * DSDTs minivmm and QEMU generate (Name() objects with constant values).
 */
#include "minitest.h"

static uint32_t le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

/* "RSD PTR ", the ACPI 1.0 checksum, and for revision >= 2 the extended one. */
bool rsdp_valid(const uint8_t *p)
{
	uint32_t len;

	if (memcmp(p, "RSD PTR ", 8) || checksum8(p, 20))
		return false;
	if (p[15] < 2)
		return true;
	len = le32(p + 20);
	return len >= 36 && len <= 4096 && !checksum8(p, len);
}

static void madt_ioapic(const uint8_t *e, struct madt_info *m)
{
	if (m->nioapic >= MAX_IOAPICS)
		return;
	m->ioapic_addr[m->nioapic] = le32(e + 4);
	m->ioapic_gsi_base[m->nioapic] = le32(e + 8);
	m->nioapic++;
}

/* Type 0 (enabled local APICs, as Linux counts them) and type 1 (IOAPICs). */
void madt_parse(const uint8_t *madt, uint32_t len, struct madt_info *m)
{
	uint32_t off = 44;

	memset(m, 0, sizeof(*m));
	if (len < 44)
		return;
	m->lapic_addr = le32(madt + 36);
	while (off + 2 <= len && madt[off + 1] >= 2 &&
	       off + madt[off + 1] <= len) {
		const uint8_t *e = madt + off;

		if (e[0] == 0 && e[1] >= 8 && (e[4] & 1) && m->ncpus < MAX_CPUS)
			m->apic_id[m->ncpus++] = e[3];
		else if (e[0] == 1 && e[1] >= 12)
			madt_ioapic(e, m);
		off += e[1];
	}
}

/* AML PkgLength: returns its value and sets *size to its encoded bytes. */
static uint32_t pkg_length(const uint8_t *p, unsigned *size)
{
	unsigned extra = p[0] >> 6;
	uint32_t v = p[0] & (extra ? 0x0f : 0x3f);

	for (unsigned i = 0; i < extra; i++)
		v |= (uint32_t)p[1 + i] << (4 + 8 * i);
	*size = 1 + extra;
	return v;
}

/* A constant integer term (Zero, One, Ones, Byte/Word/DWordPrefix). */
static bool aml_int(const uint8_t *p, const uint8_t *end, uint32_t *v,
		    unsigned *size)
{
	static const uint8_t widths[4] = { 1, 2, 4, 0 };
	unsigned w;

	if (p >= end)
		return false;
	*size = 1;
	if (p[0] <= 1 || p[0] == 0xff) {
		*v = p[0] == 0xff ? 0xffffffffu : p[0];
		return true;
	}
	if (p[0] < 0x0a || p[0] > 0x0c)
		return false;
	w = widths[p[0] - 0x0a];
	if (p + 1 + w > end)
		return false;
	*v = 0;
	for (unsigned i = 0; i < w; i++)
		*v |= (uint32_t)p[1 + i] << (8 * i);
	*size = 1 + w;
	return true;
}

static const uint8_t *find(const uint8_t *p, const uint8_t *end,
			   const char *s, size_t n)
{
	for (; p + n <= end; p++)
		if (!memcmp(p, s, n))
			return p;
	return NULL;
}

/* Walk a resource template for Memory32Fixed (0x86) and Extended IRQ (0x89). */
static bool crs_walk(const uint8_t *p, const uint8_t *end, struct vmmio *d)
{
	bool mem = false, irq = false;

	while (p < end) {
		uint32_t len;

		if (!(p[0] & 0x80)) {		/* small item */
			if ((p[0] >> 3) == 0x0f)
				break;		/* end tag */
			p += 1 + (p[0] & 7);
			continue;
		}
		if (p + 3 > end)
			break;
		len = p[1] | p[2] << 8;
		if (p + 3 + len > end)
			break;
		if (p[0] == 0x86 && len >= 9) {
			d->base = le32(p + 4);
			d->size = le32(p + 8);
			mem = true;
		} else if (p[0] == 0x89 && len >= 6 && p[4] >= 1 && !irq) {
			d->gsi = le32(p + 5);
			irq = true;
		}
		p += 3 + len;
	}
	return mem && irq;
}

/* Name(_CRS, Buffer(n) { ... }) between p and end: decode its template. */
static bool crs_find(const uint8_t *p, const uint8_t *end, struct vmmio *d)
{
	const uint8_t *crs = find(p, end, "_CRS\x11", 5), *body;
	uint32_t pkglen, bufsize;
	unsigned n, m;

	if (!crs || crs + 6 > end)
		return false;
	pkglen = pkg_length(crs + 5, &n);
	if (!aml_int(crs + 5 + n, end, &bufsize, &m))
		return false;
	body = crs + 5 + n + m;
	if (crs + 5 + pkglen < body + bufsize || crs + 5 + pkglen > end)
		return false;
	return crs_walk(body, body + bufsize, d);
}

/*
 * Every _HID "LNRO0005" string and the _CRS that follows it, up to the
 * next such _HID (the device's end, in DSDTs that put _HID first).
 */
unsigned dsdt_find_virtio(const uint8_t *aml, size_t len, struct vmmio *out,
			  unsigned max)
{
	static const char hid[] = "\x0dLNRO0005";	/* StringPrefix */
	const uint8_t *end = aml + len, *p = aml, *next;
	unsigned n = 0;

	while (n < max && (p = find(p, end, hid, 9))) {
		next = find(p + 9, end, hid, 9);
		if (crs_find(p + 9, next ? next : end, &out[n]))
			n++;
		p += 9;
	}
	return n;
}

/* Name(_S5_, Package(n) { SLP_TYPa, ... }): the first element. */
bool dsdt_find_s5(const uint8_t *aml, size_t len, uint32_t *slp_typ)
{
	const uint8_t *end = aml + len, *p = aml;
	unsigned n, m;

	while ((p = find(p, end, "_S5_\x12", 5))) {
		if (p + 6 < end) {
			pkg_length(p + 5, &n);
			if (p + 5 + n + 1 < end &&
			    aml_int(p + 5 + n + 1, end, slp_typ, &m))
				return true;
		}
		p += 5;
	}
	return false;
}

/* Linux's memparse(): a number (0x for hex) and an optional K/M/G suffix. */
static const char *memparse(const char *s, uint64_t *v)
{
	unsigned base = 10, d;

	*v = 0;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	for (;; s++) {
		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (base == 16 && (*s | 0x20) >= 'a' && (*s | 0x20) <= 'f')
			d = (*s | 0x20) - 'a' + 10;
		else
			break;
		*v = *v * base + d;
	}
	switch (*s | 0x20) {
	case 'g': *v <<= 10;	/* fall through */
	case 'm': *v <<= 10;	/* fall through */
	case 'k': *v <<= 10; s++; break;
	}
	return s;
}

/* One "<size>@<base>:<irq>[:<id>]" value; false if malformed. */
static bool virtio_mmio_arg(const char *s, struct vmmio *d)
{
	uint64_t size, base, irq;

	s = memparse(s, &size);
	if (*s++ != '@')
		return false;
	s = memparse(s, &base);
	if (*s++ != ':')
		return false;
	s = memparse(s, &irq);
	if (*s && *s != ' ' && *s != ':')
		return false;
	*d = (struct vmmio){ base, (uint32_t)size, (uint32_t)irq };
	return true;
}

/* Every virtio_mmio.device= word (CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES). */
unsigned cmdline_virtio_mmio(const char *cl, struct vmmio *out, unsigned max)
{
	static const char key[] = "virtio_mmio.device=";
	unsigned n = 0;

	for (const char *w = cl; *w && n < max; ) {
		if (!strncmp(w, key, sizeof(key) - 1) &&
		    virtio_mmio_arg(w + sizeof(key) - 1, &out[n]))
			n++;
		while (*w && *w != ' ')
			w++;
		while (*w == ' ')
			w++;
	}
	return n;
}
