/* The CPU model: what KVM supports, narrowed by the user and by what the host can run. */
#ifndef MINIVMM_CPUID_H
#define MINIVMM_CPUID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

struct vm;

/*
 * Build vm->cpuid from KVM_GET_SUPPORTED_CPUID, then apply the conservative
 * model on software-backed KVM and the --cpu-features edits. Dies on a
 * malformed or unknown feature (status 2).
 */
void cpuid_init(struct vm *vm);

/*
 * Apply a feature list ("-cx16,+x2apic") to @cpuid. @supported is KVM's
 * unchanged model: a feature can only be added where KVM supports it.
 * Returns 0, or -1 with the offending item and reason in @why.
 */
int cpuid_apply_features(struct kvm_cpuid2 *cpuid, const struct kvm_cpuid2 *supported,
			 const char *list, char *why, size_t whylen);

/* Per-vCPU copy of the model with APIC ID and topology for vCPU @index of @ncpus. */
struct kvm_cpuid2 *cpuid_for_vcpu(const struct kvm_cpuid2 *model, int index, int ncpus);

/* The entry for (@function, @index), or NULL. */
struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *cpuid, uint32_t function, uint32_t index);

#endif
