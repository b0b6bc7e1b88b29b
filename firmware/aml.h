/*
 * A small builder for ACPI Machine Language (ACPI 6.5, chapter 20): just the
 * terms a DSDT for minivmm needs. Bytes go into a growable buffer; the first
 * error (bad name, no memory) sticks in ->err and makes later calls no-ops, so
 * callers check once at the end.
 *
 * Terms with a PkgLength (Scope, Device, Method, Buffer, Package) take their
 * body as a separate, finished struct aml: its length is then known, and the
 * PkgLength is written in front of it.
 */
#ifndef MINIVMM_AML_H
#define MINIVMM_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct aml {
	uint8_t *data;
	size_t len;
	size_t cap;
	int err; /* 0, -ENOMEM or -EINVAL */
};

/* Largest value a PkgLength can hold (4 bytes: 4 + 3 * 8 bits). */
#define AML_PKGLEN_MAX ((1U << 28) - 1)

void aml_init(struct aml *a);
void aml_free(struct aml *a);
/* Append raw bytes (also a finished body: aml_append(a, b->data, b->len)). */
void aml_append(struct aml *a, const void *bytes, size_t len);

/*
 * PkgLength of exactly @value (which counts its own bytes): 1 to 4 bytes into
 * @out; returns how many, or 0 if @value > AML_PKGLEN_MAX.
 */
int aml_pkglen_encode(uint32_t value, uint8_t out[4]);
/* Decode a PkgLength at @in (@len bytes available); returns bytes used, or 0 if malformed. */
int aml_pkglen_decode(const uint8_t *in, size_t len, uint32_t *value);

/*
 * Compressed EISA ID of "PNP0501"-style names (three letters A-Z, four hex
 * digits), as the 32-bit value AML stores; 0 if @id is malformed.
 */
uint32_t aml_eisaid(const char *id);

/*
 * Name strings: "\\_SB.COM1" (root), "_SB.COM1", "COM1" or "_S5": segments of
 * at most four characters (A-Z, 0-9, _; not starting with a digit), padded
 * with '_'.
 */
void aml_name_string(struct aml *a, const char *path);

/* Data objects. */
void aml_integer(struct aml *a, uint64_t v); /* Zero, One or the smallest prefix */
void aml_string(struct aml *a, const char *s);
/* Package(n) { @elements } where @elements holds @count encoded data objects. */
void aml_package(struct aml *a, uint8_t count, const struct aml *elements);
/* Buffer(sizeof bytes) { bytes }: what ResourceTemplate() compiles to. */
void aml_buffer(struct aml *a, const struct aml *bytes);

/* Named objects and scopes. */
void aml_name(struct aml *a, const char *path, const struct aml *value);
void aml_name_integer(struct aml *a, const char *path, uint64_t v);
void aml_name_string_value(struct aml *a, const char *path, const char *s);
void aml_name_eisaid(struct aml *a, const char *path, const char *id);
void aml_scope(struct aml *a, const char *path, const struct aml *body);
void aml_device(struct aml *a, const char *path, const struct aml *body);
/* Method(@path, @nargs (0-7), Serialized or NotSerialized) { @body } */
void aml_method(struct aml *a, const char *path, int nargs, bool serialized,
		const struct aml *body);
/* Method(@path, 0, NotSerialized) { Return (@v) } */
void aml_method_return_integer(struct aml *a, const char *path, uint64_t v);

/* OperationRegion(@name, @space, @offset, @len) */
#define AML_SYSTEM_MEMORY 0x00
#define AML_SYSTEM_IO 0x01
void aml_operation_region(struct aml *a, const char *name, uint8_t space, uint64_t offset,
			  uint64_t len);
/* Field flags: access type in bits 3:0, LockRule in bit 4, UpdateRule in bits 6:5. */
#define AML_FIELD_BYTE_ACC 0x01
#define AML_FIELD_WORD_ACC 0x02
#define AML_FIELD_DWORD_ACC 0x03
#define AML_FIELD_NO_LOCK 0x00
#define AML_FIELD_PRESERVE 0x00
/* Field(@region, @flags) { @name, @bits }: one field at the start of the region. */
void aml_field(struct aml *a, const char *region, uint8_t flags, const char *name,
	       uint32_t bits);

/*
 * Expressions and statements. Operands are finished fragments (a name string,
 * an integer, a local, another expression), appended in order: AML is prefix.
 */
void aml_local(struct aml *a, int n); /* Local0 to Local7 */
void aml_arg(struct aml *a, int n); /* Arg0 to Arg6 */
void aml_store(struct aml *a, const struct aml *src, const struct aml *dst); /* Store(src, dst) */
void aml_and(struct aml *a, const struct aml *x, const struct aml *y); /* And(x, y), no target */
void aml_lequal(struct aml *a, const struct aml *x, const struct aml *y); /* LEqual(x, y) */
void aml_if(struct aml *a, const struct aml *predicate, const struct aml *body);
void aml_notify(struct aml *a, const struct aml *object, const struct aml *value);

/*
 * Resource descriptors (ACPI 6.5, 6.4), appended to a struct aml that later
 * becomes the body of aml_buffer(). Finish with aml_res_end().
 */
void aml_res_io(struct aml *a, uint16_t base, uint8_t len); /* IO(Decode16, fixed base) */
void aml_res_irq_noflags(struct aml *a, uint8_t irq); /* IRQNoFlags() { irq }, irq < 16 */
void aml_res_memory32_fixed(struct aml *a, uint32_t base, uint32_t size); /* ReadWrite */

#define AML_IRQ_LEVEL 0 /* Extended Interrupt flag bits, ACPI 6.5 table 6.259 */
#define AML_IRQ_EDGE 0x02
#define AML_IRQ_ACTIVE_HIGH 0
#define AML_IRQ_ACTIVE_LOW 0x04
#define AML_IRQ_EXCLUSIVE 0
#define AML_IRQ_SHARED 0x08
/* Interrupt(ResourceConsumer, @flags) { gsi } */
void aml_res_interrupt(struct aml *a, uint8_t flags, uint32_t gsi);
void aml_res_end(struct aml *a);

#endif
