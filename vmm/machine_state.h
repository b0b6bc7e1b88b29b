/*
 * The KVM side of a snapshot: every vCPU's registers and in-kernel state,
 * the irqchip, the PIT and the clock, as fixed-layout records. The records
 * are the kernel's UAPI structures, so a snapshot restores on the same
 * architecture and KVM ABI it was taken on. VM paused.
 */
#ifndef MINIVMM_MACHINE_STATE_H
#define MINIVMM_MACHINE_STATE_H

#include <stdint.h>
#include <linux/kvm.h>

/*
 * The MSRs are (index, value) pairs in a fixed array of MAX_SAVED_MSRS with
 * nmsrs of them used, so saving more MSRs (the MTRRs since they are added
 * by name) changes only nmsrs, not the layout: no version bump. A record
 * without them restores, leaving those MSRs at their boot values, and any
 * reader puts back whatever MSRs a record holds.
 */
#define VCPU_STATE_VERSION 1
#define VM_STATE_VERSION 1
#define MAX_SAVED_MSRS 256

struct vcpu;
struct vm;

struct vcpu_state {
	uint32_t version;
	uint32_t has_xsave;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_fpu fpu;
	struct kvm_xcrs xcrs;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events events;
	struct kvm_mp_state mp_state;
	struct kvm_debugregs debugregs;
	uint32_t nmsrs;
	struct kvm_msr_entry msrs[MAX_SAVED_MSRS];
	struct kvm_xsave xsave; /* last: it ends in a flexible array */
};

struct vm_state {
	uint32_t version;
	struct kvm_irqchip pic_master;
	struct kvm_irqchip pic_slave;
	struct kvm_irqchip ioapic;
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
};

/* Find the MSRs this host's KVM can read back (once, before saving). */
void machine_state_init(struct vm *vm);

/* Each returns 0 or -1 with the failing call named in @why. */
int vcpu_state_save(struct vcpu *vcpu, struct vcpu_state *s, char *why, size_t whylen);
int vcpu_state_load(struct vcpu *vcpu, const struct vcpu_state *s, char *why, size_t whylen);
int vm_state_save(struct vm *vm, struct vm_state *s, char *why, size_t whylen);
int vm_state_load(struct vm *vm, const struct vm_state *s, char *why, size_t whylen);

#endif
