#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "log.h"
#include "machine_state.h"
#include "vm.h"

#define MSR_IA32_TSC_DEADLINE 0x6e0
#define MSR_MTRRCAP 0xfe
#define MTRRCAP_VCNT 0xff
#define MTRRCAP_FIX 0x100
#define MSR_MTRR_PHYSBASE0 0x200 /* PHYSMASKn = PHYSBASE0 + 2n + 1 */
#define MAX_VAR_MTRRS 8          /* 0x200-0x20f; 0x210 on is something else */
#define MSR_MTRR_FIX64K_00000 0x250
#define MSR_MTRR_FIX16K_80000 0x258
#define MSR_MTRR_FIX16K_A0000 0x259
#define MSR_MTRR_FIX4K_C0000 0x268 /* ... 0x26e */
#define MSR_MTRR_FIX4K_F8000 0x26f
#define MSR_MTRR_DEF_TYPE 0x2ff

#define FAIL(name)                                                                 \
	do {                                                                       \
		snprintf(why, whylen, "%s: %s", name, strerror(errno));            \
		return -1;                                                         \
	} while (0)

/* One MSR read on vCPU 0: KVM_GET_MSRS stops at the first it cannot read. */
static bool msr_read(struct vm *vm, uint32_t index, uint64_t *data)
{
	union {
		struct kvm_msrs hdr;
		uint8_t room[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
	} m = { .hdr.nmsrs = 1 };

	m.hdr.entries[0].index = index;
	if (ioctl(vm->vcpus[0].fd, KVM_GET_MSRS, &m) != 1)
		return false;
	*data = m.hdr.entries[0].data;
	return true;
}

static bool msr_readable(struct vm *vm, uint32_t index)
{
	uint64_t data;

	return msr_read(vm, index, &data);
}

/* Save @index too if vCPU 0 reads it back, there is room and it is not listed yet. */
static void add_msr(struct vm *vm, uint32_t index)
{
	for (int i = 0; i < vm->nsaved_msrs; i++)
		if (vm->saved_msrs[i] == index)
			return;
	if (!msr_readable(vm, index))
		return;
	if (vm->nsaved_msrs >= MAX_SAVED_MSRS) {
		log_msg("snapshot: more than %d MSRs, %#x is not saved", MAX_SAVED_MSRS, index);
		return;
	}
	vm->saved_msrs[vm->nsaved_msrs++] = index;
}

/*
 * KVM_GET_MSR_INDEX_LIST leaves out the MTRRs, although KVM keeps them per
 * vCPU and takes them back from userspace, so a restore would give the
 * guest the boot defaults vcpu.c sets. Like QEMU, save them explicitly:
 * MTRRdefType, the 11 fixed-range MTRRs when MTRRcap says FIX, and the
 * variable-range base/mask pairs MTRRcap's VCNT counts (KVM has 8). Each is
 * probed like the listed ones, so an MSR this KVM refuses is left out.
 * MTRRcap itself is read-only.
 */
static void add_mtrrs(struct vm *vm)
{
	static const uint32_t fixed[] = {
		MSR_MTRR_FIX64K_00000, MSR_MTRR_FIX16K_80000, MSR_MTRR_FIX16K_A0000,
		MSR_MTRR_FIX4K_C0000, MSR_MTRR_FIX4K_C0000 + 1, MSR_MTRR_FIX4K_C0000 + 2,
		MSR_MTRR_FIX4K_C0000 + 3, MSR_MTRR_FIX4K_C0000 + 4, MSR_MTRR_FIX4K_C0000 + 5,
		MSR_MTRR_FIX4K_C0000 + 6, MSR_MTRR_FIX4K_F8000,
	};
	uint64_t cap;
	unsigned vcnt;

	if (!msr_read(vm, MSR_MTRRCAP, &cap))
		return;
	add_msr(vm, MSR_MTRR_DEF_TYPE);
	if (cap & MTRRCAP_FIX)
		for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
			add_msr(vm, fixed[i]);
	vcnt = cap & MTRRCAP_VCNT;
	if (vcnt > MAX_VAR_MTRRS)
		vcnt = MAX_VAR_MTRRS;
	for (unsigned i = 0; i < vcnt; i++) {
		add_msr(vm, MSR_MTRR_PHYSBASE0 + 2 * i);
		add_msr(vm, MSR_MTRR_PHYSBASE0 + 2 * i + 1); /* PHYSMASK */
	}
}

void machine_state_init(struct vm *vm)
{
	struct kvm_msr_list probe = { .nmsrs = 0 };
	struct kvm_msr_list *list;

	/* The first call fails with E2BIG and says how many there are. */
	ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe);
	list = calloc(1, sizeof(*list) + probe.nmsrs * sizeof(list->indices[0]));
	if (!list)
		die(EXIT_RUNTIME, "snapshot: out of memory");
	list->nmsrs = probe.nmsrs;
	if (ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, list) < 0)
		die(EXIT_RUNTIME, "KVM_GET_MSR_INDEX_LIST: %s", strerror(errno));
	vm->nsaved_msrs = 0;
	for (uint32_t i = 0; i < list->nmsrs; i++)
		add_msr(vm, list->indices[i]);
	free(list);
	add_mtrrs(vm);
	log_debug("snapshot: %d MSRs saved per vCPU", vm->nsaved_msrs);
}

static int save_msrs(struct vcpu *vcpu, struct vcpu_state *s, char *why, size_t whylen)
{
	struct vm *vm = vcpu->vm;
	struct kvm_msrs *m = calloc(1, sizeof(*m) + vm->nsaved_msrs * sizeof(m->entries[0]));
	int n;

	if (!m)
		FAIL("MSRs");
	m->nmsrs = vm->nsaved_msrs;
	for (int i = 0; i < vm->nsaved_msrs; i++)
		m->entries[i].index = vm->saved_msrs[i];
	n = ioctl(vcpu->fd, KVM_GET_MSRS, m);
	if (n != vm->nsaved_msrs) {
		free(m);
		snprintf(why, whylen, "KVM_GET_MSRS: read %d of %d", n, vm->nsaved_msrs);
		return -1;
	}
	s->nmsrs = n;
	memcpy(s->msrs, m->entries, n * sizeof(m->entries[0]));
	free(m);
	return 0;
}

/*
 * KVM_SET_MSRS stops at the first MSR it refuses. A few KVM reads back but
 * does not take from userspace; skip those one by one rather than fail.
 * @deadline picks IA32_TSC_DEADLINE alone, else every other MSR.
 */
static int load_msrs(struct vcpu *vcpu, const struct vcpu_state *s, bool deadline, char *why,
		     size_t whylen)
{
	struct kvm_msr_entry pick[MAX_SAVED_MSRS];
	struct kvm_msrs *m;
	uint32_t done = 0, n = 0;

	if (s->nmsrs > MAX_SAVED_MSRS) {
		snprintf(why, whylen, "vCPU %d: %u MSRs in the snapshot", vcpu->index, s->nmsrs);
		return -1;
	}
	for (uint32_t i = 0; i < s->nmsrs; i++)
		if ((s->msrs[i].index == MSR_IA32_TSC_DEADLINE) == deadline)
			pick[n++] = s->msrs[i];
	m = calloc(1, sizeof(*m) + n * sizeof(m->entries[0]));
	if (!m)
		FAIL("MSRs");
	while (done < n) {
		m->nmsrs = n - done;
		memcpy(m->entries, pick + done, m->nmsrs * sizeof(m->entries[0]));
		int got = ioctl(vcpu->fd, KVM_SET_MSRS, m);

		if (got < 0)
			break;
		done += got;
		if (done < n) {
			log_debug("vCPU %d: MSR %#x not restored", vcpu->index, pick[done].index);
			done++;
		}
	}
	free(m);
	if (done < n)
		FAIL("KVM_SET_MSRS");
	return 0;
}

/*
 * KVM_GET_MP_STATE is not a plain read: it runs kvm_apic_accept_events(),
 * which applies a pending INIT (resetting registers, clearing queued
 * events) or SIPI (setting CS:RIP). Read it first, as Firecracker does, so
 * every record after it is the state that came of it; QEMU too reads it
 * before the registers. vCPU events next: they include whether an INIT is
 * still latched, which must agree with the MP state.
 */
int vcpu_state_save(struct vcpu *vcpu, struct vcpu_state *s, char *why, size_t whylen)
{
	int fd = vcpu->fd;

	memset(s, 0, sizeof(*s));
	s->version = VCPU_STATE_VERSION;
	if (ioctl(fd, KVM_GET_MP_STATE, &s->mp_state) < 0)
		FAIL("KVM_GET_MP_STATE");
	if (ioctl(fd, KVM_GET_VCPU_EVENTS, &s->events) < 0)
		FAIL("KVM_GET_VCPU_EVENTS");
	s->has_xsave = ioctl(fd, KVM_GET_XSAVE, &s->xsave) == 0;
	if (ioctl(fd, KVM_GET_REGS, &s->regs) < 0)
		FAIL("KVM_GET_REGS");
	if (ioctl(fd, KVM_GET_SREGS, &s->sregs) < 0)
		FAIL("KVM_GET_SREGS");
	if (ioctl(fd, KVM_GET_FPU, &s->fpu) < 0)
		FAIL("KVM_GET_FPU");
	if (s->has_xsave && ioctl(fd, KVM_GET_XCRS, &s->xcrs) < 0)
		FAIL("KVM_GET_XCRS");
	if (ioctl(fd, KVM_GET_LAPIC, &s->lapic) < 0)
		FAIL("KVM_GET_LAPIC");
	if (ioctl(fd, KVM_GET_DEBUGREGS, &s->debugregs) < 0)
		FAIL("KVM_GET_DEBUGREGS");
	return save_msrs(vcpu, s, why, whylen);
}

/*
 * sregs first: they carry IA32_APIC_BASE, so the LAPIC's enable bit and
 * x2APIC mode are set before KVM_SET_LAPIC reads its registers in that
 * mode. The MSRs before the LAPIC, but for IA32_TSC_DEADLINE after it:
 * - KVM ignores a write to IA32_TSC_DEADLINE unless the LAPIC timer is
 *   already in TSC-deadline mode, and a new vCPU's is one-shot, so written
 *   before KVM_SET_LAPIC an armed deadline (Linux's lapic-deadline
 *   clockevent) is lost and an idle vCPU sleeps until some unrelated
 *   interrupt. QEMU, too, writes the deadline after the LAPIC, last.
 * - KVM_SET_LAPIC restarts a one-shot or periodic timer and notes when it
 *   is due in guest TSC cycles (for the VMX preemption timer and timer
 *   advance), and KVM turns the deadline into a host timer from the guest
 *   TSC; both want IA32_TSC and IA32_TSC_ADJUST back already.
 * No other MSR KVM saves touches the LAPIC's registers (PV EOI, async PF
 * and kvm-clock only keep addresses and vectors; the MTRRs only memory
 * types), so they may go in either side of it. The kvm-clock is set
 * from the snapshot later, by vm_resume(). MP state late.
 */
int vcpu_state_load(struct vcpu *vcpu, const struct vcpu_state *s, char *why, size_t whylen)
{
	int fd = vcpu->fd;

	if (ioctl(fd, KVM_SET_SREGS, &s->sregs) < 0)
		FAIL("KVM_SET_SREGS");
	if (ioctl(fd, KVM_SET_REGS, &s->regs) < 0)
		FAIL("KVM_SET_REGS");
	if (s->has_xsave) {
		if (ioctl(fd, KVM_SET_XSAVE, &s->xsave) < 0)
			FAIL("KVM_SET_XSAVE");
		if (ioctl(fd, KVM_SET_XCRS, &s->xcrs) < 0)
			FAIL("KVM_SET_XCRS");
	} else if (ioctl(fd, KVM_SET_FPU, &s->fpu) < 0) {
		FAIL("KVM_SET_FPU");
	}
	if (load_msrs(vcpu, s, false, why, whylen) < 0)
		return -1;
	if (ioctl(fd, KVM_SET_LAPIC, &s->lapic) < 0)
		FAIL("KVM_SET_LAPIC");
	if (load_msrs(vcpu, s, true, why, whylen) < 0)
		return -1;
	if (ioctl(fd, KVM_SET_VCPU_EVENTS, &s->events) < 0)
		FAIL("KVM_SET_VCPU_EVENTS");
	if (ioctl(fd, KVM_SET_MP_STATE, &s->mp_state) < 0)
		FAIL("KVM_SET_MP_STATE");
	if (ioctl(fd, KVM_SET_DEBUGREGS, &s->debugregs) < 0)
		FAIL("KVM_SET_DEBUGREGS");
	return 0;
}

int vm_state_save(struct vm *vm, struct vm_state *s, char *why, size_t whylen)
{
	memset(s, 0, sizeof(*s));
	s->version = VM_STATE_VERSION;
	s->pic_master.chip_id = KVM_IRQCHIP_PIC_MASTER;
	s->pic_slave.chip_id = KVM_IRQCHIP_PIC_SLAVE;
	s->ioapic.chip_id = KVM_IRQCHIP_IOAPIC;
	if (ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &s->pic_master) < 0 ||
	    ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &s->pic_slave) < 0 ||
	    ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &s->ioapic) < 0)
		FAIL("KVM_GET_IRQCHIP");
	if (ioctl(vm->vm_fd, KVM_GET_PIT2, &s->pit) < 0)
		FAIL("KVM_GET_PIT2");
	/* Paused: the clock the guest stopped at. */
	s->clock = vm->clock;
	return 0;
}

int vm_state_load(struct vm *vm, const struct vm_state *s, char *why, size_t whylen)
{
	if (ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &s->pic_master) < 0 ||
	    ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &s->pic_slave) < 0 ||
	    ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &s->ioapic) < 0)
		FAIL("KVM_SET_IRQCHIP");
	if (ioctl(vm->vm_fd, KVM_SET_PIT2, &s->pit) < 0)
		FAIL("KVM_SET_PIT2");
	/* vm_resume() sets the clock from here. */
	vm->clock = s->clock;
	return 0;
}
