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

#define CRS_MEM	1
#define CRS_IRQ	2

/*
 * Walk a resource template for Memory32Fixed (0x86) and Extended IRQ
 * (0x89); returns which of the two (CRS_MEM, CRS_IRQ) it found.
 */
static unsigned crs_walk(const uint8_t *p, const uint8_t *end,
			 struct vmmio *d)
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
	return (mem ? CRS_MEM : 0) | (irq ? CRS_IRQ : 0);
}

/* Name(_CRS, Buffer(n) { ... }) between p and end: decode its template. */
static unsigned crs_find(const uint8_t *p, const uint8_t *end,
			 struct vmmio *d)
{
	const uint8_t *crs = find(p, end, "_CRS\x11", 5), *body;
	uint32_t pkglen, bufsize;
	unsigned n, m;

	if (!crs || crs + 6 > end)
		return 0;
	pkglen = pkg_length(crs + 5, &n);
	if (!aml_int(crs + 5 + n, end, &bufsize, &m))
		return 0;
	body = crs + 5 + n + m;
	if (crs + 5 + pkglen < body + bufsize || crs + 5 + pkglen > end)
		return 0;
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
		if (crs_find(p + 9, next ? next : end, &out[n]) ==
		    (CRS_MEM | CRS_IRQ))
			n++;
		p += 9;
	}
	return n;
}

/*
 * The end of the Device() holding the _HID at @hid: a DeviceOp (0x5b
 * 0x82) a few bytes before it whose PkgLength reaches past it, else @end.
 */
static const uint8_t *device_end(const uint8_t *aml, const uint8_t *hid,
				 const uint8_t *end)
{
	const uint8_t *e;
	unsigned n;

	for (size_t back = 6; back < 24 && back <= (size_t)(hid - aml);
	     back++) {
		const uint8_t *p = hid - back;

		if (p[0] != 0x5b || p[1] != 0x82)
			continue;
		e = p + 2 + pkg_length(p + 2, &n);
		if (e > hid && e <= end)
			return e;
	}
	return end;
}

/* OperationRegion(name, space, offset, length): 0x5b 0x80 NameSeg ... */
static bool ged_region(const uint8_t *p, const uint8_t *end,
		       struct ged_info *g)
{
	const uint8_t *r = p;
	uint32_t addr;
	unsigned m;

	while ((r = find(r, end, "\x5b\x80", 2))) {
		if (r + 7 <= end && r[6] <= 1 &&
		    aml_int(r + 7, end, &addr, &m)) {
			g->space = r[6];
			g->addr = addr;
			return true;
		}
		r += 2;
	}
	return false;
}

/* Notify(<name of up to 12 bytes>, 0x80) at @q. */
static bool notify_80(const uint8_t *q, const uint8_t *end)
{
	if (q[0] != 0x86)
		return false;
	for (unsigned i = 2; i < 14 && q + i + 1 < end; i++)
		if (q[i] == 0x0a && q[i + 1] == 0x80)
			return true;
	return false;
}

/*
 * The event bit of the power button: in _EVT, the last And(x, mask)
 * before a Notify(..., 0x80).  QEMU's GED writes
 * If ((Local0 & 2) == 2) { Notify (PWRB, 0x80) }.  Stays 1 if not found.
 */
static void ged_button_mask(const uint8_t *p, const uint8_t *end,
			    struct ged_info *g)
{
	const uint8_t *q = find(p, end, "_EVT", 4), *and = NULL;
	uint32_t mask;
	unsigned m, skip;

	for (q = q ? q + 4 : end; q + 2 < end; q++) {
		if (q[0] == 0x7b)
			and = q;
		else if (and && notify_80(q, end))
			break;
	}
	if (!and || q + 2 >= end)
		return;
	/* the first operand: LocalX or ArgX (one byte), else a NameSeg */
	skip = and[1] >= 0x60 && and[1] <= 0x6e ? 1 : 4;
	if (aml_int(and + 1 + skip, end, &mask, &m) && mask)
		g->mask = mask;
}

/*
 * The Generic Event Device (_HID "ACPI0013"): its _CRS interrupt, its
 * event register (the first OperationRegion in the device: SystemMemory
 * or SystemIO, a constant address) and the power button's event bit.
 * A byte scan like the others, not an interpreter.
 */
bool dsdt_find_ged(const uint8_t *aml, size_t len, struct ged_info *g)
{
	static const char hid[] = "\x0d" "ACPI0013";
	const uint8_t *end = aml + len, *p = find(aml, end, hid, 9), *dev_end;
	struct vmmio irq = { 0, 0, 0 };

	memset(g, 0, sizeof(*g));
	g->mask = 1;
	if (!p)
		return false;
	dev_end = device_end(aml, p, end);
	if (!(crs_find(p + 9, dev_end, &irq) & CRS_IRQ) ||
	    !ged_region(p + 9, dev_end, g))
		return false;
	g->gsi = irq.gsi;
	ged_button_mask(p + 9, dev_end, g);
	return true;
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
