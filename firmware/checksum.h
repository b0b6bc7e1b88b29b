/* The byte checksum BIOS tables share (MP spec, ACPI): all bytes sum to zero. */
#ifndef MINIVMM_CHECKSUM_H
#define MINIVMM_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/* The value that makes the @len bytes at @p sum to zero (mod 256). */
static inline uint8_t table_checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	while (len--)
		sum += *b++;
	return (uint8_t)-sum;
}

#endif
