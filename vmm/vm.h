/* The virtual machine: every piece of mutable state the VMM has lives in here. */
#ifndef MINIVMM_VM_H
#define MINIVMM_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/kvm.h>

#include "../firmware/acpi.h"
#include "bus.h"
#include "cli.h"
#include "device.h"
#include "event_loop.h"
#include "guest_mem.h"

#define MAX_DEVICES 32
/* virtio-mmio windows: in the 32-bit hole, one page each, with their own GSIs. */
#define MMIO_DEVICES_BASE 0xd0000000ULL
#define MMIO_DEVICE_STRIDE 0x1000ULL
#define MAX_MMIO_DEVICES 16
#define EXIT_STATUS_RUNNING (-1)

struct vm;
struct console;
struct ged;
struct vm_state;
struct vcpu_state;

struct vcpu {
	struct vm *vm;
	int index;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool thread_started;
	atomic_int tid; /* host thread id, for info and debugging */
};

struct vm {
	const struct config *cfg;
	int kvm_fd;
	int vm_fd;
	size_t run_size; /* of each vCPU's mmap'ed struct kvm_run */
	bool software_kvm; /* KVM backed by an instruction emulator (kvm_pvm) */
	struct guest_mem mem;
	struct bus pio;
	struct bus mmio;
	struct kvm_cpuid2 *cpuid; /* the model every vCPU starts from */
	int ncpus;
	struct vcpu *vcpus;
	struct device devices[MAX_DEVICES];
	int ndevices;
	struct acpi_mmio_device mmio_devices[MAX_MMIO_DEVICES]; /* for ACPI and the cmdline */
	int nmmio_devices;
	struct console *console;
	struct event_loop loop;
	int exit_eventfd; /* written when exit_status is first set */
	int signal_fd;
	atomic_int exit_status;

	/* Pause: vCPUs park on pause_cond; devices stop with the event loop's device fds. */
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond;
	atomic_bool pause_requested;
	int parked;		       /* vCPUs parked, under pause_lock */
	bool paused;		       /* as the monitor reports it; I/O thread only */
	struct kvm_clock_data clock;   /* guest clock when paused */
	char cannot_resume[512];       /* why the VM must stay paused; "" when it may run */

	/* Snapshots */
	uint32_t saved_msrs[256];      /* MSRs KVM reads back, found at start */
	int nsaved_msrs;
	struct ged *ged;	       /* the ACPI power button, or NULL */
	const char *snapshot_dir;      /* where savevm writes */
	struct vm_state *power_on_vm;  /* for system_reset; NULL when restored */
	struct vcpu_state *power_on_vcpus;
	_Atomic uint8_t unhandled_pio_seen[65536 / 8];
	atomic_int unhandled_mmio_logged;
};

/* Open /dev/kvm, check it, create the VM with irqchip, PIT and RAM. Dies with status 1. */
void vm_create(struct vm *vm, const struct config *cfg);

/* Ask the whole VM to stop with @status; the first request wins. */
void vm_request_exit(struct vm *vm, int status);
bool vm_exiting(struct vm *vm);

/* Drive ISA interrupt line @irq (in-kernel PIC and IOAPIC) to @level. */
void vm_irq_line(struct vm *vm, unsigned irq, int level);

int vm_add_device(struct vm *vm, const struct device_ops *ops, void *dev);
/* Reserve the next MMIO window of @size bytes and an interrupt line; -ENOSPC when full. */
int vm_alloc_mmio(struct vm *vm, uint32_t size, uint64_t *base, uint32_t *gsi);

/* Register a port range for a device; dies on overlap (a bug in minivmm). */
void vm_register_pio(struct vm *vm, uint16_t base, uint16_t len, bus_read_fn read,
		     bus_write_fn write, void *opaque);

void vm_destroy(struct vm *vm);

/* In vcpu.c */
void vcpus_create(struct vm *vm, uint64_t entry, uint64_t boot_params);
void vcpus_start(struct vm *vm);
void vcpus_stop(struct vm *vm);
/* Take every vCPU out of KVM_RUN and hold it there; stop device work; freeze the clock.
 * I/O thread only. Returns 0, or -errno if KVM refused the clock. */
int vm_pause(struct vm *vm);
/* Returns 0, or -1 if vm->cannot_resume says why the VM stays paused. */
int vm_resume(struct vm *vm);
/* In reset.c: record the state system_reset returns to (after vCPU setup). */
void vm_record_power_on(struct vm *vm);

#endif
