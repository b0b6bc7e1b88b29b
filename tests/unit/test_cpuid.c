/* cpuid_apply_features and cpuid_for_vcpu on hand-built CPUID tables. */
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "../../vmm/cpuid.h"

#define IDX KVM_CPUID_FLAG_SIGNIFCANT_INDEX
#define BIT(n) (1U << (n))

#define CX16 BIT(13)
#define SSE3 BIT(0)
#define X2APIC BIT(21)
#define HTT BIT(28)
#define AVX2 BIT(5)
#define SMEP BIT(7)
#define SHA BIT(29)
#define PDPE1GB BIT(26)
#define RDTSCP BIT(27)

/* Leaf 4 EAX: cache type and level, with bits 14-31 filled by the "host". */
#define CACHE(level, type) ((level) << 5 | (type) | 0xfc000000U | 0x3fffU << 14)

static const struct kvm_cpuid_entry2 base_entries[] = {
	{ .function = 0, .eax = 0xd },
	{ .function = 1, .eax = 0x906ea, .ebx = 0x07010800, .ecx = SSE3 | CX16,
	  .edx = BIT(0) | BIT(9) },
	{ .function = 4, .index = 0, .flags = IDX, .eax = CACHE(1, 1), .ebx = 0x01c0003f },
	{ .function = 4, .index = 1, .flags = IDX, .eax = CACHE(1, 2), .ebx = 0x01c0003f },
	{ .function = 4, .index = 2, .flags = IDX, .eax = CACHE(2, 3), .ebx = 0x00c0003f },
	{ .function = 4, .index = 3, .flags = IDX, .eax = CACHE(3, 3), .ebx = 0x03c0003f },
	{ .function = 4, .index = 4, .flags = IDX, .eax = 0 },
	{ .function = 7, .index = 0, .flags = IDX, .ebx = AVX2 | SMEP },
	{ .function = 0xb, .index = 0, .flags = IDX, .eax = 1, .ebx = 2, .ecx = 0x100, .edx = 7 },
	{ .function = 0xb, .index = 1, .flags = IDX, .eax = 4, .ebx = 8, .ecx = 0x201, .edx = 7 },
	{ .function = 0xb, .index = 2, .flags = IDX, .eax = 0, .ebx = 0, .ecx = 2, .edx = 7 },
	{ .function = 0x80000001, .edx = RDTSCP },
};

#define NENT ARRAY_SIZE(base_entries)

static struct kvm_cpuid2 *make_cpuid(void)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + NENT * sizeof(c->entries[0]));

	assert_non_null(c);
	c->nent = NENT;
	memcpy(c->entries, base_entries, sizeof(base_entries));
	return c;
}

/* KVM's model: what base_entries has, plus x2apic, sha and pdpe1gb. */
static struct kvm_cpuid2 *make_supported(void)
{
	struct kvm_cpuid2 *c = make_cpuid();

	cpuid_find(c, 1, 0)->ecx |= X2APIC;
	cpuid_find(c, 7, 0)->ebx |= SHA;
	cpuid_find(c, 0x80000001, 0)->edx |= PDPE1GB;
	return c;
}

struct fixture {
	struct kvm_cpuid2 *model, *supported;
	char why[128];
};

static int setup(void **state)
{
	static struct fixture f;

	f.model = make_cpuid();
	f.supported = make_supported();
	memset(f.why, 0, sizeof(f.why));
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	free(f->model);
	free(f->supported);
	return 0;
}

static int apply(struct fixture *f, const char *list)
{
	f->why[0] = '\0';
	return cpuid_apply_features(f->model, f->supported, list, f->why, sizeof(f->why));
}

static void test_find(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(cpuid_find(f->model, 4, 2)->eax & 0xff, CACHE(2, 3) & 0xff);
	assert_null(cpuid_find(f->model, 4, 5));
	assert_null(cpuid_find(f->model, 7, 1));
	assert_null(cpuid_find(f->model, 0x8000001f, 0));
	/* A leaf without a significant index matches any index. */
	assert_ptr_equal(cpuid_find(f->model, 1, 3), cpuid_find(f->model, 1, 0));
}

static void test_remove(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(apply(f, "-cx16"), 0);
	assert_int_equal(cpuid_find(f->model, 1, 0)->ecx, SSE3);
	assert_int_equal(apply(f, "-avx2,-rdtscp"), 0);
	assert_int_equal(cpuid_find(f->model, 7, 0)->ebx, SMEP);
	assert_int_equal(cpuid_find(f->model, 0x80000001, 0)->edx, 0);
	/* Removing what is not there is harmless. */
	assert_int_equal(apply(f, "-cx16,-la57,-pku"), 0);
	assert_int_equal(cpuid_find(f->model, 1, 0)->ecx, SSE3);
	/* The rest of the table is untouched. */
	assert_int_equal(cpuid_find(f->model, 1, 0)->edx, BIT(0) | BIT(9));
	assert_memory_equal(cpuid_find(f->model, 4, 0), &base_entries[2], sizeof(base_entries[2]));
	/* And the supported model is never written. */
	assert_int_equal(cpuid_find(f->supported, 1, 0)->ecx, SSE3 | CX16 | X2APIC);
	assert_int_equal(apply(f, ""), 0);
}

static void test_add(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(apply(f, "+x2apic"), 0);
	assert_int_equal(cpuid_find(f->model, 1, 0)->ecx, SSE3 | CX16 | X2APIC);
	assert_int_equal(apply(f, "+sha,+pdpe1gb"), 0);
	assert_int_equal(cpuid_find(f->model, 7, 0)->ebx, AVX2 | SMEP | SHA);
	assert_int_equal(cpuid_find(f->model, 0x80000001, 0)->edx, RDTSCP | PDPE1GB);
	/* Remove, then add back. */
	assert_int_equal(apply(f, "-cx16,+cx16"), 0);
	assert_true(cpuid_find(f->model, 1, 0)->ecx & CX16);
}

static void test_add_unsupported(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(apply(f, "+la57"), -1);
	assert_non_null(strstr(f->why, "la57"));
	assert_non_null(strstr(f->why, "not supported"));
	assert_int_equal(apply(f, "+avx"), -1);
	assert_non_null(strstr(f->why, "avx"));
	assert_int_equal(cpuid_find(f->model, 1, 0)->ecx, SSE3 | CX16);
	assert_int_equal(cpuid_find(f->model, 7, 0)->ebx, AVX2 | SMEP);
}

static void refused(struct fixture *f, const char *list, const char *reason)
{
	if (apply(f, list) != -1)
		fail_msg("\"%s\" accepted", list);
	if (!strstr(f->why, reason))
		fail_msg("\"%s\": reason \"%s\" does not say \"%s\"", list, f->why, reason);
}

static void test_malformed(void **state)
{
	struct fixture *f = *state;

	refused(f, "cx16", "+NAME or -NAME");
	refused(f, "+", "+NAME or -NAME");
	refused(f, "-", "+NAME or -NAME");
	refused(f, ",,", "+NAME or -NAME");
	refused(f, ",-cx16", "+NAME or -NAME");
	refused(f, "-cx16,,-sse3", "+NAME or -NAME");
	refused(f, "*cx16", "+NAME or -NAME");
	refused(f, "-nope", "unknown");
	refused(f, "-nope", "nope");
	refused(f, "+cx", "unknown");
	refused(f, "-cx16x", "unknown");
	refused(f, "-cx16 ", "unknown");
	refused(f, "-sse3,+bogus", "'bogus'");
}

static void test_why_bounded(void **state)
{
	struct fixture *f = *state;
	char why[8];
	char list[300];

	memset(why, 'z', sizeof(why));
	memset(list, 'a', sizeof(list));
	list[0] = '-';
	list[sizeof(list) - 1] = '\0';
	assert_int_equal(cpuid_apply_features(f->model, f->supported, list, why, 4), -1);
	assert_int_equal(strlen(why), 3);
	assert_int_equal(why[4], 'z');
}

static void check_vcpu(const struct kvm_cpuid2 *model, int index, int ncpus)
{
	struct kvm_cpuid2 *c = cpuid_for_vcpu(model, index, ncpus);
	unsigned cores = ncpus > 64 ? 64 : ncpus;

	assert_non_null(c);
	assert_int_equal(c->nent, model->nent);
	for (uint32_t i = 0; i < c->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &c->entries[i], *m = &model->entries[i];

		assert_int_equal(e->function, m->function);
		assert_int_equal(e->index, m->index);
		assert_int_equal(e->flags, m->flags);
		switch (e->function) {
		case 1:
			assert_int_equal(e->ebx >> 24, index);
			assert_int_equal((e->ebx >> 16) & 0xff, ncpus);
			assert_int_equal(e->ebx & 0xffff, m->ebx & 0xffff);
			assert_int_equal(!!(e->edx & HTT), ncpus > 1);
			assert_int_equal(e->edx & ~HTT, m->edx);
			assert_int_equal(e->eax, m->eax);
			assert_int_equal(e->ecx, m->ecx);
			break;
		case 4:
			if ((m->eax & 0x1f) == 0) {
				assert_memory_equal(e, m, sizeof(*e));
				break;
			}
			assert_int_equal(e->eax >> 26, cores - 1);
			assert_int_equal((e->eax >> 14) & 0xfff,
					 ((m->eax >> 5) & 7) >= 3 ? ncpus - 1 : 0);
			assert_int_equal(e->eax & 0x3fff, m->eax & 0x3fff);
			assert_int_equal(e->ebx, m->ebx);
			break;
		case 0xb:
			assert_int_equal(e->edx, index);
			assert_int_equal(e->ecx & 0xff, e->index);
			if (e->index == 0) {
				assert_int_equal(e->ebx, 1);
				assert_int_equal((e->ecx >> 8) & 0xff, 1);
			} else if (e->index == 1) {
				assert_int_equal(e->ebx, ncpus);
				assert_int_equal((e->ecx >> 8) & 0xff, 2);
				/* EAX: the shift that takes an APIC ID to the package ID. */
				assert_true((1U << e->eax) >= (unsigned)ncpus);
				assert_true(e->eax == 0 || (1U << (e->eax - 1)) < (unsigned)ncpus);
			} else {
				assert_int_equal(e->ebx, 0);
				assert_int_equal((e->ecx >> 8) & 0xff, 0);
			}
			break;
		default:
			assert_memory_equal(e, m, sizeof(*e));
		}
	}
	free(c);
}

static void test_for_vcpu(void **state)
{
	struct fixture *f = *state;
	struct kvm_cpuid2 *copy = make_cpuid();
	static const int counts[] = { 1, 2, 3, 4, 16, 64, 65, 254 };

	for (size_t i = 0; i < ARRAY_SIZE(counts); i++) {
		int n = counts[i];

		check_vcpu(f->model, 0, n);
		check_vcpu(f->model, n / 2, n);
		check_vcpu(f->model, n - 1, n);
	}
	/* The model itself is left alone. */
	assert_memory_equal(f->model, copy, sizeof(*copy) + NENT * sizeof(copy->entries[0]));
	free(copy);
}

static void test_for_vcpu_values(void **state)
{
	struct fixture *f = *state;
	struct kvm_cpuid2 *c = cpuid_for_vcpu(f->model, 3, 4);

	assert_int_equal(cpuid_find(c, 1, 0)->ebx, 0x03040800);
	assert_int_equal(cpuid_find(c, 0xb, 0)->edx, 3);
	assert_int_equal(cpuid_find(c, 0xb, 1)->ebx, 4);
	assert_int_equal(cpuid_find(c, 0xb, 1)->eax, 2);
	assert_int_equal(cpuid_find(c, 4, 0)->eax >> 26, 3);
	assert_int_equal(cpuid_find(c, 4, 3)->eax >> 26, 3);
	assert_int_equal((cpuid_find(c, 4, 3)->eax >> 14) & 0xfff, 3);
	assert_int_equal((cpuid_find(c, 4, 2)->eax >> 14) & 0xfff, 0);
	free(c);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_find),
		T(test_remove),
		T(test_add),
		T(test_add_unsupported),
		T(test_malformed),
		T(test_why_bounded),
		T(test_for_vcpu),
		T(test_for_vcpu_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
