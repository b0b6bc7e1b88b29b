/*
 * libFuzzer target: parse_size and cpuid_apply_features on the input as a
 * string (the two parsers of user-typed values), against a fixed CPU model.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../vmm/cli.h"
#include "../../vmm/cpuid.h"

#define CHECK(cond)                                                              \
	do {                                                                     \
		if (!(cond)) {                                                   \
			fprintf(stderr, "%s:%d: %s does not hold\n", __FILE__,   \
				__LINE__, #cond);                                \
			abort();                                                 \
		}                                                                \
	} while (0)

#define NENT 5

static const struct kvm_cpuid_entry2 model_entries[NENT] = {
	{ .function = 1, .ecx = 0x0000200f, .edx = 0x00000201 },
	{ .function = 7, .index = 0, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .ebx = 0x000000a0 },
	{ .function = 0xb, .index = 0, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .ebx = 1 },
	{ .function = 0xb, .index = 1, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .ebx = 2 },
	{ .function = 0x80000001, .edx = 0x08000000 },
};

/* What "KVM" supports: the model plus x2apic, sha and pdpe1gb. */
static const uint32_t extra[NENT][4] = {
	{ 0, 0, 1U << 21, 0 }, { 0, 1U << 29, 0, 0 }, { 0 }, { 0 }, { 0, 0, 0, 1U << 26 },
};

static struct kvm_cpuid2 *alloc_cpuid(void)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + NENT * sizeof(c->entries[0]));

	if (!c)
		abort();
	c->nent = NENT;
	memcpy(c->entries, model_entries, sizeof(model_entries));
	return c;
}

static uint32_t *regs(struct kvm_cpuid_entry2 *e, int r)
{
	uint32_t *all[4] = { &e->eax, &e->ebx, &e->ecx, &e->edx };

	return all[r];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kvm_cpuid2 *supported;
	char *s = malloc(size + 1);
	uint64_t v = 0;
	const char *why_size = NULL;
	char why[96];

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	if (parse_size(s, &v, &why_size) == 0) {
		CHECK(v != 0);
		CHECK(v % 4096 == 0);
	} else {
		CHECK(why_size != NULL && why_size[0] != '\0');
	}

	if (!supported) {
		supported = alloc_cpuid();
		for (int i = 0; i < NENT; i++)
			for (int r = 0; r < 4; r++)
				*regs(&supported->entries[i], r) |= extra[i][r];
	}
	struct kvm_cpuid2 *model = alloc_cpuid();

	memset(why, 0x55, sizeof(why));
	if (cpuid_apply_features(model, supported, s, why, sizeof(why)) != 0)
		CHECK(memchr(why, '\0', sizeof(why)) != NULL);
	/* Whatever was applied, no bit appears that KVM does not support. */
	for (int i = 0; i < NENT; i++) {
		struct kvm_cpuid_entry2 *m = &model->entries[i], *k = &supported->entries[i];

		CHECK(m->function == k->function && m->index == k->index && m->flags == k->flags);
		for (int r = 0; r < 4; r++)
			CHECK((*regs(m, r) & ~*regs(k, r)) == 0);
	}
	free(model);
	free(s);
	return 0;
}
