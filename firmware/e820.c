#include "e820.h"

static void add(struct e820_entry *table, int *n, uint64_t addr, uint64_t end, uint32_t type)
{
	if (end > addr)
		table[(*n)++] = (struct e820_entry){ addr, end - addr, type };
}

int e820_build(const struct guest_mem *mem, struct e820_entry *table)
{
	const struct mem_region *low = &mem->regions[0];
	int n = 0;

	/* Below 1 MiB: conventional memory, the VGA hole, the BIOS area. */
	add(table, &n, 0, BASE_MEM_END, E820_RAM);
	add(table, &n, BIOS_AREA_START, HIMEM_START, E820_RESERVED);
	add(table, &n, HIMEM_START, low->gpa + low->size, E820_RAM);
	for (int i = 1; i < mem->nregions; i++)
		add(table, &n, mem->regions[i].gpa, mem->regions[i].gpa + mem->regions[i].size,
		    E820_RAM);
	return n;
}
