#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "cpuid.h"
#include "log.h"
#include "vm.h"

enum reg { EAX, EBX, ECX, EDX };

struct feature {
	const char *name;
	uint32_t function;
	uint32_t index;
	enum reg reg;
	unsigned bit;
};

static const struct feature features[] = {
	{ "sse3", 1, 0, ECX, 0 },	 { "pclmulqdq", 1, 0, ECX, 1 },
	{ "ssse3", 1, 0, ECX, 9 },	 { "fma", 1, 0, ECX, 12 },
	{ "cx16", 1, 0, ECX, 13 },	 { "pcid", 1, 0, ECX, 17 },
	{ "sse4.1", 1, 0, ECX, 19 },	 { "sse4.2", 1, 0, ECX, 20 },
	{ "x2apic", 1, 0, ECX, 21 },	 { "movbe", 1, 0, ECX, 22 },
	{ "popcnt", 1, 0, ECX, 23 },	 { "tsc-deadline", 1, 0, ECX, 24 },
	{ "aes", 1, 0, ECX, 25 },	 { "xsave", 1, 0, ECX, 26 },
	{ "avx", 1, 0, ECX, 28 },	 { "f16c", 1, 0, ECX, 29 },
	{ "rdrand", 1, 0, ECX, 30 },	 { "hypervisor", 1, 0, ECX, 31 },
	{ "fsgsbase", 7, 0, EBX, 0 },	 { "bmi1", 7, 0, EBX, 3 },
	{ "hle", 7, 0, EBX, 4 },	 { "avx2", 7, 0, EBX, 5 },
	{ "smep", 7, 0, EBX, 7 },	 { "bmi2", 7, 0, EBX, 8 },
	{ "erms", 7, 0, EBX, 9 },	 { "invpcid", 7, 0, EBX, 10 },
	{ "rtm", 7, 0, EBX, 11 },	 { "avx512f", 7, 0, EBX, 16 },
	{ "rdseed", 7, 0, EBX, 18 },	 { "adx", 7, 0, EBX, 19 },
	{ "smap", 7, 0, EBX, 20 },	 { "clflushopt", 7, 0, EBX, 23 },
	{ "sha", 7, 0, EBX, 29 },	 { "umip", 7, 0, ECX, 2 },
	{ "pku", 7, 0, ECX, 3 },	 { "la57", 7, 0, ECX, 16 },
	{ "rdpid", 7, 0, ECX, 22 },	 { "pdpe1gb", 0x80000001, 0, EDX, 26 },
	{ "rdtscp", 0x80000001, 0, EDX, 27 },
};

/*
 * What the instruction emulator behind software-backed KVM cannot run:
 * cmpxchg16b, and xsave/xrstor with everything whose state lives there.
 */
static const char conservative_model[] = "-cx16,-xsave,-avx,-avx2,-avx512f,-fma,-f16c";

static uint32_t *reg_of(struct kvm_cpuid_entry2 *e, enum reg reg)
{
	switch (reg) {
	case EAX: return &e->eax;
	case EBX: return &e->ebx;
	case ECX: return &e->ecx;
	default: return &e->edx;
	}
}

struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *cpuid, uint32_t function, uint32_t index)
{
	for (uint32_t i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];
		bool indexed = e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX;

		if (e->function == function && (!indexed || e->index == index))
			return e;
	}
	return NULL;
}

static const struct feature *feature_by_name(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++)
		if (strlen(features[i].name) == len && strncmp(features[i].name, name, len) == 0)
			return &features[i];
	return NULL;
}

/* Apply one "+name" or "-name" item of @len bytes. */
static int apply_one(struct kvm_cpuid2 *cpuid, const struct kvm_cpuid2 *supported,
		     const char *item, size_t len, char *why, size_t whylen)
{
	const struct feature *f = len > 1 ? feature_by_name(item + 1, len - 1) : NULL;

	if (len < 2 || (item[0] != '+' && item[0] != '-')) {
		snprintf(why, whylen, "'%.*s': write +NAME or -NAME", (int)len, item);
		return -1;
	}
	if (!f) {
		snprintf(why, whylen, "'%.*s': unknown CPU feature", (int)len - 1, item + 1);
		return -1;
	}
	struct kvm_cpuid_entry2 *e = cpuid_find(cpuid, f->function, f->index);
	struct kvm_cpuid_entry2 *s = cpuid_find((struct kvm_cpuid2 *)supported, f->function, f->index);
	uint32_t mask = 1U << f->bit;

	if (item[0] == '-') {
		if (e)
			*reg_of(e, f->reg) &= ~mask;
		return 0;
	}
	if (!e || !s || !(*reg_of(s, f->reg) & mask)) {
		snprintf(why, whylen, "'%s': not supported by this host's KVM", f->name);
		return -1;
	}
	*reg_of(e, f->reg) |= mask;
	return 0;
}

int cpuid_apply_features(struct kvm_cpuid2 *cpuid, const struct kvm_cpuid2 *supported,
			 const char *list, char *why, size_t whylen)
{
	while (*list) {
		size_t len = strcspn(list, ",");

		if (apply_one(cpuid, supported, list, len, why, whylen) < 0)
			return -1;
		list += len;
		if (*list == ',')
			list++;
	}
	return 0;
}

static struct kvm_cpuid2 *cpuid_alloc(uint32_t nent)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));

	if (!c)
		die(EXIT_RUNTIME, "CPUID: out of memory");
	c->nent = nent;
	return c;
}

static struct kvm_cpuid2 *cpuid_copy(const struct kvm_cpuid2 *src)
{
	struct kvm_cpuid2 *c = cpuid_alloc(src->nent);

	memcpy(c->entries, src->entries, src->nent * sizeof(c->entries[0]));
	return c;
}

static struct kvm_cpuid2 *get_supported(int kvm_fd)
{
	for (uint32_t nent = 64;; nent *= 2) {
		struct kvm_cpuid2 *c = cpuid_alloc(nent);

		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			return c;
		free(c);
		if (errno != E2BIG || nent > 4096)
			die(EXIT_RUNTIME, "KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
	}
}

void cpuid_init(struct vm *vm)
{
	struct kvm_cpuid2 *supported = get_supported(vm->kvm_fd);
	char why[128];

	vm->cpuid = cpuid_copy(supported);
	/* We are the hypervisor the guest should know it runs on. */
	struct kvm_cpuid_entry2 *leaf1 = cpuid_find(vm->cpuid, 1, 0);

	if (leaf1)
		leaf1->ecx |= 1U << 31;
	if (vm->software_kvm) {
		log_msg("KVM here is backed by an instruction emulator (kvm_pvm): using a "
			"conservative CPU model (%s); --cpu-features +NAME adds back",
			conservative_model);
		cpuid_apply_features(vm->cpuid, supported, conservative_model, why, sizeof(why));
	}
	if (vm->cfg->cpu_features &&
	    cpuid_apply_features(vm->cpuid, supported, vm->cfg->cpu_features, why, sizeof(why)))
		die(EXIT_USAGE, "--cpu-features %s", why);
	free(supported);
}

static unsigned bits_for(int n)
{
	unsigned bits = 0;

	while ((1 << bits) < n)
		bits++;
	return bits;
}

/* Leaf 0xb/0x1f: one thread per core, @ncpus cores in one package. */
static void set_topology_leaf(struct kvm_cpuid_entry2 *e, int index, int ncpus)
{
	e->edx = index;
	switch (e->index) {
	case 0: /* SMT level */
		e->eax = 0;
		e->ebx = 1;
		e->ecx = 1 << 8;
		break;
	case 1: /* core level */
		e->eax = bits_for(ncpus);
		e->ebx = ncpus;
		e->ecx = 2 << 8 | 1;
		break;
	default:
		e->eax = e->ebx = 0;
		e->ecx = e->index;
	}
}

/* Leaf 4: caches up to L2 are per core, L3 is shared by the package. */
static void set_cache_leaf(struct kvm_cpuid_entry2 *e, int ncpus)
{
	unsigned level = (e->eax >> 5) & 7;
	unsigned cores = ncpus > 64 ? 64 : ncpus;
	unsigned sharing = level >= 3 ? ncpus - 1 : 0;

	if ((e->eax & 0x1f) == 0)
		return; /* no cache at this index */
	e->eax &= 0x3fff;
	e->eax |= (cores - 1) << 26 | (sharing & 0xfff) << 14;
}

struct kvm_cpuid2 *cpuid_for_vcpu(const struct kvm_cpuid2 *model, int index, int ncpus)
{
	struct kvm_cpuid2 *c = cpuid_copy(model);

	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		switch (e->function) {
		case 1:
			e->ebx = (e->ebx & 0xffff) | (uint32_t)(ncpus > 255 ? 255 : ncpus) << 16 |
				 (uint32_t)index << 24;
			if (ncpus > 1)
				e->edx |= 1U << 28; /* HTT: more than one logical processor */
			break;
		case 4:
			set_cache_leaf(e, ncpus);
			break;
		case 0xb:
		case 0x1f:
			set_topology_leaf(e, index, ncpus);
			break;
		}
	}
	return c;
}
