/* vCPU threads: set up the boot state, run KVM_RUN, dispatch exits to the bus. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "boot.h"
#include "cpuid.h"
#include "log.h"
#include "vm.h"

#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_MTRR_DEF_TYPE 0x2ff
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SYSCALL_MASK 0xc0000084
#define MSR_KERNEL_GS_BASE 0xc0000102

#define APIC_LVT_LINT0 0x350
#define APIC_LVT_LINT1 0x360
#define APIC_MODE_NMI 0x4
#define APIC_MODE_EXTINT 0x7

#define CR0_PE 0x1ULL
#define CR0_MP 0x2ULL
#define CR0_ET 0x10ULL
#define CR0_NE 0x20ULL
#define CR0_WP 0x10000ULL
#define CR0_PG 0x80000000ULL
#define CR4_PAE 0x20ULL
#define EFER_LME 0x100ULL
#define EFER_LMA 0x400ULL

static void vcpu_ioctl(struct vcpu *vcpu, unsigned long req, void *arg, const char *name)
{
	if (ioctl(vcpu->fd, req, arg) < 0)
		die(EXIT_RUNTIME, "vCPU %d: %s: %s", vcpu->index, name, strerror(errno));
}

static void setup_cpuid(struct vcpu *vcpu)
{
	struct kvm_cpuid2 *c = cpuid_for_vcpu(vcpu->vm->cpuid, vcpu->index, vcpu->vm->ncpus);

	vcpu_ioctl(vcpu, KVM_SET_CPUID2, c, "KVM_SET_CPUID2");
	free(c);
}

static void setup_msrs(struct vcpu *vcpu)
{
	static const struct kvm_msr_entry boot_msrs[] = {
		{ .index = MSR_IA32_SYSENTER_CS },  { .index = MSR_IA32_SYSENTER_ESP },
		{ .index = MSR_IA32_SYSENTER_EIP }, { .index = MSR_STAR },
		{ .index = MSR_LSTAR },		    { .index = MSR_CSTAR },
		{ .index = MSR_SYSCALL_MASK },	    { .index = MSR_KERNEL_GS_BASE },
		{ .index = MSR_IA32_MISC_ENABLE, .data = 1 }, /* fast strings */
		/* MTRRs on, write-back by default, as firmware leaves them. */
		{ .index = MSR_MTRR_DEF_TYPE, .data = 0x806 },
	};
	const size_t n = sizeof(boot_msrs) / sizeof(boot_msrs[0]);
	struct kvm_msrs *msrs = calloc(1, sizeof(*msrs) + sizeof(boot_msrs));

	if (!msrs)
		die(EXIT_RUNTIME, "vCPU %d: out of memory", vcpu->index);
	msrs->nmsrs = n;
	memcpy(msrs->entries, boot_msrs, sizeof(boot_msrs));
	if (ioctl(vcpu->fd, KVM_SET_MSRS, msrs) != (int)n)
		die(EXIT_RUNTIME, "vCPU %d: KVM_SET_MSRS: not all boot MSRs accepted", vcpu->index);
	free(msrs);
}

static void setup_fpu(struct vcpu *vcpu)
{
	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };

	vcpu_ioctl(vcpu, KVM_SET_FPU, &fpu, "KVM_SET_FPU");
}

static void set_lvt(struct kvm_lapic_state *lapic, int reg, uint32_t mode)
{
	uint32_t v;

	memcpy(&v, &lapic->regs[reg], 4);
	v = (v & ~0x700U) | mode << 8;
	memcpy(&lapic->regs[reg], &v, 4);
}

/* The 8259 reaches CPUs through LINT0 as ExtINT, NMIs through LINT1, as on a PC. */
static void setup_lapic(struct vcpu *vcpu)
{
	struct kvm_lapic_state lapic;

	vcpu_ioctl(vcpu, KVM_GET_LAPIC, &lapic, "KVM_GET_LAPIC");
	set_lvt(&lapic, APIC_LVT_LINT0, APIC_MODE_EXTINT);
	set_lvt(&lapic, APIC_LVT_LINT1, APIC_MODE_NMI);
	vcpu_ioctl(vcpu, KVM_SET_LAPIC, &lapic, "KVM_SET_LAPIC");
}

static void set_segment(struct kvm_segment *s, uint16_t selector, uint8_t type, bool code64)
{
	*s = (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = selector, .type = type,
		.present = 1, .dpl = 0, .db = code64 ? 0 : 1, .s = 1, .l = code64, .g = 1,
	};
}

/* Long mode with the boot GDT and page tables, as Linux's 64-bit boot protocol asks. */
static void setup_long_mode(struct vcpu *vcpu, uint64_t entry, uint64_t boot_params)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs = { .rflags = 0x2, .rip = entry, .rsi = boot_params,
				 .rsp = BOOT_STACK_TOP, .rbp = BOOT_STACK_TOP };

	vcpu_ioctl(vcpu, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS");
	set_segment(&sregs.cs, BOOT_CS, 0xb, true);
	set_segment(&sregs.ds, BOOT_DS, 0x3, false);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.tr = (struct kvm_segment){ .selector = BOOT_TSS, .limit = 0x67, .type = 0xb,
					 .present = 1 };
	sregs.gdt = (struct kvm_dtable){ .base = BOOT_GDT_ADDR, .limit = 5 * 8 - 1 };
	sregs.idt = (struct kvm_dtable){ .base = BOOT_IDT_ADDR, .limit = 0 };
	sregs.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	sregs.cr3 = BOOT_PML4_ADDR;
	sregs.cr4 = CR4_PAE;
	sregs.efer = EFER_LME | EFER_LMA;
	vcpu_ioctl(vcpu, KVM_SET_SREGS, &sregs, "KVM_SET_SREGS");
	vcpu_ioctl(vcpu, KVM_SET_REGS, &regs, "KVM_SET_REGS");
}

static void vcpu_create(struct vm *vm, struct vcpu *vcpu, int index)
{
	vcpu->vm = vm;
	vcpu->index = index;
	vcpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, index);
	if (vcpu->fd < 0)
		die(EXIT_RUNTIME, "vCPU %d: KVM_CREATE_VCPU: %s", index, strerror(errno));
	vcpu->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED)
		die(EXIT_RUNTIME, "vCPU %d: mmap kvm_run: %s", index, strerror(errno));
	setup_cpuid(vcpu);
	setup_msrs(vcpu);
	setup_fpu(vcpu);
	setup_lapic(vcpu);
}

void vcpus_create(struct vm *vm, uint64_t entry, uint64_t boot_params)
{
	cpuid_init(vm);
	vm->vcpus = calloc(vm->ncpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		die(EXIT_RUNTIME, "vCPUs: out of memory");
	for (int i = 0; i < vm->ncpus; i++)
		vcpu_create(vm, &vm->vcpus[i], i);
	/* APs wait in the in-kernel LAPIC for INIT and SIPI from the guest. */
	setup_long_mode(&vm->vcpus[0], entry, boot_params);
}
