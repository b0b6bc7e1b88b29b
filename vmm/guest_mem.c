#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "guest_mem.h"

void guest_mem_layout(struct guest_mem *mem, uint64_t ram_size)
{
	uint64_t low = ram_size < LOW_RAM_MAX ? ram_size : LOW_RAM_MAX;

	memset(mem, 0, sizeof(*mem));
	mem->ram_size = ram_size;
	mem->regions[0] = (struct mem_region){ .gpa = 0, .size = low };
	mem->nregions = 1;
	if (ram_size > low) {
		mem->regions[1] = (struct mem_region){ .gpa = HIGH_RAM_START, .size = ram_size - low };
		mem->nregions = 2;
	}
}

int guest_mem_map(struct guest_mem *mem)
{
	for (int i = 0; i < mem->nregions; i++) {
		struct mem_region *r = &mem->regions[i];
		void *p = mmap(NULL, r->size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

		if (p == MAP_FAILED) {
			int err = -errno;

			guest_mem_unmap(mem);
			return err;
		}
		/* Huge pages make guest TLB misses cheaper; failure is harmless. */
		madvise(p, r->size, MADV_HUGEPAGE);
		r->host = p;
	}
	return 0;
}

void guest_mem_unmap(struct guest_mem *mem)
{
	for (int i = 0; i < mem->nregions; i++) {
		struct mem_region *r = &mem->regions[i];

		if (r->host)
			munmap(r->host, r->size);
		r->host = NULL;
	}
}

void *gpa_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	for (int i = 0; i < mem->nregions; i++) {
		const struct mem_region *r = &mem->regions[i];

		/* Written so that no sum can wrap: gpa - r->gpa is only taken once gpa >= r->gpa. */
		if (!r->host || gpa < r->gpa || gpa - r->gpa > r->size)
			continue;
		if (len > r->size - (gpa - r->gpa))
			return NULL;
		return r->host + (gpa - r->gpa);
	}
	return NULL;
}

int gpa_write(const struct guest_mem *mem, uint64_t gpa, const void *src, uint64_t len)
{
	void *dst = gpa_ptr(mem, gpa, len);

	if (!dst)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}

int gpa_read(const struct guest_mem *mem, uint64_t gpa, void *dst, uint64_t len)
{
	const void *src = gpa_ptr(mem, gpa, len);

	if (!src)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}
