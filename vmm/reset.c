/*
 * system_reset: the machine goes back to its power-on state and boots the
 * kernel again, in the same process. The power-on state of every vCPU and of
 * the irqchip was recorded right after setup (vm_record_power_on).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "boot.h"
#include "log.h"
#include "machine_state.h"
#include "snapshot.h"
#include "vm.h"

void vm_record_power_on(struct vm *vm)
{
	char why[256];

	vm->power_on_vm = calloc(1, sizeof(*vm->power_on_vm));
	vm->power_on_vcpus = calloc(vm->ncpus, sizeof(*vm->power_on_vcpus));
	if (!vm->power_on_vm || !vm->power_on_vcpus)
		die(EXIT_RUNTIME, "power-on state: out of memory");
	if (vm_state_save(vm, vm->power_on_vm, why, sizeof(why)) < 0)
		die(EXIT_RUNTIME, "power-on state: %s", why);
	for (int i = 0; i < vm->ncpus; i++)
		if (vcpu_state_save(&vm->vcpus[i], &vm->power_on_vcpus[i], why, sizeof(why)) < 0)
			die(EXIT_RUNTIME, "power-on state: %s", why);
}

/* Fresh zero pages at the same addresses, so the KVM memory slots stay valid. */
static int zero_ram(struct vm *vm)
{
	for (int i = 0; i < vm->mem.nregions; i++) {
		struct mem_region *r = &vm->mem.regions[i];

		if (mmap(r->host, r->size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) == MAP_FAILED)
			return -errno;
		madvise(r->host, r->size, MADV_HUGEPAGE);
	}
	return 0;
}

int vm_reset(struct vm *vm, char *why, size_t whylen)
{
	struct boot_info boot;
	int err;

	if (!vm->power_on_vm) {
		snprintf(why, whylen, "no kernel to boot again (this VM was restored from a "
				      "snapshot)");
		return -1;
	}
	err = zero_ram(vm);
	if (err < 0) {
		snprintf(why, whylen, "guest RAM: %s", strerror(-err));
		return -1;
	}
	boot_load(vm, &boot);
	for (int i = 0; i < vm->ndevices; i++)
		if (vm->devices[i].ops->reset)
			vm->devices[i].ops->reset(vm->devices[i].dev);
	if (vm_state_load(vm, vm->power_on_vm, why, whylen) < 0)
		return -1;
	for (int i = 0; i < vm->ncpus; i++)
		if (vcpu_state_load(&vm->vcpus[i], &vm->power_on_vcpus[i], why, whylen) < 0)
			return -1;
	vm->cannot_resume[0] = '\0'; /* fresh RAM and a new boot: whatever a loadvm left is gone */
	return 0;
}
