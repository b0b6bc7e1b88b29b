/* The vCPU thread's loop: KVM_RUN, then each exit to the bus or to the end of the VM. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "vm.h"

#define KICK_SIGNAL SIGUSR1
#define PAUSE_TIMEOUT_MS 3000	/* longest `stop` waits for a vCPU to leave KVM_RUN */
#define KICK_RETRY_NS 20000000L /* how often a vCPU that has not stopped is kicked again */
#define MAX_UNHANDLED_MMIO_LOGS 32

static void note_unhandled_pio(struct vm *vm, uint16_t port, bool write)
{
	uint8_t bit = 1 << (port & 7);

	if (atomic_fetch_or(&vm->unhandled_pio_seen[port >> 3], bit) & bit)
		return;
	log_debug("unhandled port %s %#x (reads as all-ones)", write ? "write" : "read", port);
}

static void handle_io(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool write = run->io.direction == KVM_EXIT_IO_OUT;

	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size) {
		int err = write ? bus_write(&vcpu->vm->pio, run->io.port, data, run->io.size)
				: bus_read(&vcpu->vm->pio, run->io.port, data, run->io.size);

		if (err)
			note_unhandled_pio(vcpu->vm, run->io.port, write);
	}
}

static void handle_mmio(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	struct vm *vm = vcpu->vm;
	uint64_t addr = run->mmio.phys_addr;
	unsigned len = run->mmio.len;
	int err;

	if (len == 0 || len > sizeof(run->mmio.data))
		return;
	err = run->mmio.is_write ? bus_write(&vm->mmio, addr, run->mmio.data, len)
				 : bus_read(&vm->mmio, addr, run->mmio.data, len);
	if (err && atomic_fetch_add(&vm->unhandled_mmio_logged, 1) < MAX_UNHANDLED_MMIO_LOGS)
		log_debug("unhandled MMIO %s %#llx/%u (reads as all-ones)",
			  run->mmio.is_write ? "write" : "read", (unsigned long long)addr, len);
}

/* Up to 16 bytes at the guest's RIP, through the guest's page tables. */
static int read_insn_bytes(struct vcpu *vcpu, const struct kvm_regs *regs,
			   const struct kvm_sregs *sregs, uint8_t *buf)
{
	struct kvm_translation tr = { .linear_address = sregs->cs.base + regs->rip };

	if (ioctl(vcpu->fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid)
		return 0;
	/* Stop at the page end: the next page may map anywhere. */
	int n = 4096 - (tr.physical_address & 4095);

	if (n > 16)
		n = 16;
	return gpa_read(&vcpu->vm->mem, tr.physical_address, buf, n) ? 0 : n;
}

static void log_bytes(const char *what, const uint8_t *bytes, int n)
{
	char hex[16 * 3 + 1] = "";

	for (int i = 0; i < n && i < 16; i++)
		snprintf(hex + i * 3, 4, "%02x ", bytes[i]);
	log_msg("%s: %s", what, n ? hex : "(unreadable)");
}

/* The register dump every crash exit prints, so a bug report has what matters. */
static void dump_registers(struct vcpu *vcpu)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	uint8_t insn[16];

	if (ioctl(vcpu->fd, KVM_GET_REGS, &r) < 0 || ioctl(vcpu->fd, KVM_GET_SREGS, &s) < 0) {
		log_msg("vCPU %d: cannot read registers: %s", vcpu->index, strerror(errno));
		return;
	}
	log_msg("vCPU %d registers:", vcpu->index);
	log_msg(" RIP=%016llx RSP=%016llx RFLAGS=%08llx", r.rip, r.rsp, r.rflags);
	log_msg(" RAX=%016llx RBX=%016llx RCX=%016llx RDX=%016llx", r.rax, r.rbx, r.rcx, r.rdx);
	log_msg(" RSI=%016llx RDI=%016llx RBP=%016llx R8 =%016llx", r.rsi, r.rdi, r.rbp, r.r8);
	log_msg(" R9 =%016llx R10=%016llx R11=%016llx R12=%016llx", r.r9, r.r10, r.r11, r.r12);
	log_msg(" R13=%016llx R14=%016llx R15=%016llx", r.r13, r.r14, r.r15);
	log_msg(" CS=%04x base=%llx l=%d  SS=%04x  DS=%04x", s.cs.selector, s.cs.base, s.cs.l,
		s.ss.selector, s.ds.selector);
	log_msg(" CR0=%llx CR2=%llx CR3=%llx CR4=%llx EFER=%llx", s.cr0, s.cr2, s.cr3, s.cr4,
		s.efer);
	log_msg(" GDT=%llx/%x IDT=%llx/%x", s.gdt.base, s.gdt.limit, s.idt.base, s.idt.limit);
	log_bytes(" code at RIP", insn, read_insn_bytes(vcpu, &r, &s, insn));
}

static void internal_error(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;

	log_msg("vCPU %d: KVM internal error, suberror %u%s", vcpu->index, run->internal.suberror,
		run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ? " (emulation failure)"
									  : "");
	if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION &&
	    (run->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES))
		log_bytes(" instruction KVM could not emulate", run->emulation_failure.insn_bytes,
			  run->emulation_failure.insn_size);
	dump_registers(vcpu);
}

static void system_event(struct vcpu *vcpu)
{
	switch (vcpu->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		vm_request_exit(vcpu->vm, EXIT_POWEROFF);
		break;
	case KVM_SYSTEM_EVENT_RESET:
		vm_request_exit(vcpu->vm, EXIT_RESET);
		break;
	default:
		log_msg("vCPU %d: guest reported a crash (system event %u)", vcpu->index,
			vcpu->run->system_event.type);
		vm_request_exit(vcpu->vm, EXIT_CRASH);
	}
}

static void crash(struct vcpu *vcpu, const char *why)
{
	log_msg("vCPU %d: %s", vcpu->index, why);
	dump_registers(vcpu);
	vm_request_exit(vcpu->vm, EXIT_CRASH);
}

static void handle_exit(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	char why[96];

	switch (run->exit_reason) {
	case KVM_EXIT_IO: handle_io(vcpu); break;
	case KVM_EXIT_MMIO: handle_mmio(vcpu); break;
	case KVM_EXIT_INTR: break; /* a kick: the loop checks why */
	case KVM_EXIT_HLT: break;
	case KVM_EXIT_SHUTDOWN: crash(vcpu, "guest triple fault (shutdown)"); break;
	case KVM_EXIT_SYSTEM_EVENT: system_event(vcpu); break;
	case KVM_EXIT_INTERNAL_ERROR:
		internal_error(vcpu);
		vm_request_exit(vcpu->vm, EXIT_CRASH);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(why, sizeof(why), "KVM entry failed, hardware reason %#llx",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		crash(vcpu, why);
		break;
	default:
		snprintf(why, sizeof(why), "unexpected KVM exit reason %u", run->exit_reason);
		crash(vcpu, why);
	}
}

/*
 * Hold this vCPU until the pause ends. Only ever called after KVM_RUN came
 * back with EINTR, so any I/O the last exit left pending is complete and the
 * registers are what a snapshot should record.
 */
static void park(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;

	pthread_mutex_lock(&vm->pause_lock);
	vm->parked++;
	pthread_cond_broadcast(&vm->pause_cond);
	while (atomic_load(&vm->pause_requested) && !vm_exiting(vm))
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	vm->parked--;
	if (!vm_exiting(vm))
		vcpu->run->immediate_exit = 0;
	pthread_mutex_unlock(&vm->pause_lock);
}

static void kick(struct vcpu *vcpu)
{
	/* immediate_exit covers a kick that lands just before KVM_RUN. */
	vcpu->run->immediate_exit = 1;
	pthread_kill(vcpu->thread, KICK_SIGNAL);
}

/*
 * Kick until every vCPU has parked. One kick is not enough: it can land just
 * before a vCPU blocks in a system call (a console write to a full pipe), where
 * immediate_exit does not help. Gives up after PAUSE_TIMEOUT_MS: a vCPU stuck
 * in a write nobody drains must not take the monitor down with it.
 * Called with pause_lock held.
 */
static int wait_parked(struct vm *vm)
{
	struct timespec deadline, retry;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += PAUSE_TIMEOUT_MS / 1000;
	while (vm->parked < vm->ncpus && !vm_exiting(vm)) {
		for (int i = 0; i < vm->ncpus; i++)
			if (vm->vcpus[i].thread_started)
				kick(&vm->vcpus[i]);
		clock_gettime(CLOCK_MONOTONIC, &retry);
		if (retry.tv_sec > deadline.tv_sec ||
		    (retry.tv_sec == deadline.tv_sec && retry.tv_nsec >= deadline.tv_nsec))
			return -ETIMEDOUT;
		retry.tv_nsec += KICK_RETRY_NS;
		if (retry.tv_nsec >= 1000000000L) {
			retry.tv_sec++;
			retry.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&vm->pause_cond, &vm->pause_lock, &retry);
	}
	return 0;
}

int vm_pause(struct vm *vm)
{
	int err;

	if (vm->paused)
		return 0;
	pthread_mutex_lock(&vm->pause_lock);
	atomic_store(&vm->pause_requested, true);
	err = wait_parked(vm);
	if (err) {
		/* Let the vCPUs that did park go on: the VM keeps running. */
		atomic_store(&vm->pause_requested, false);
		pthread_cond_broadcast(&vm->pause_cond);
	}
	pthread_mutex_unlock(&vm->pause_lock);
	if (err)
		return err;
	event_loop_pause_devices(&vm->loop, true);
	vm->paused = true;
	if (ioctl(vm->vm_fd, KVM_GET_CLOCK, &vm->clock) < 0)
		return -errno;
	return 0;
}

int vm_resume(struct vm *vm)
{
	struct kvm_clock_data clock = { .clock = vm->clock.clock };

	if (!vm->paused)
		return 0;
	if (vm->cannot_resume[0])
		return -1;
	/* The guest's clock goes on from where it stopped, not from now. */
	if (ioctl(vm->vm_fd, KVM_SET_CLOCK, &clock) < 0)
		log_msg("KVM_SET_CLOCK: %s (the guest clock jumps)", strerror(errno));
	event_loop_pause_devices(&vm->loop, false);
	vm->paused = false;
	pthread_mutex_lock(&vm->pause_lock);
	atomic_store(&vm->pause_requested, false);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	return 0;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	sigset_t kick;

	atomic_store(&vcpu->tid, (int)syscall(SYS_gettid));
	sigemptyset(&kick);
	sigaddset(&kick, KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &kick, NULL);

	while (!vm_exiting(vcpu->vm)) {
		if (ioctl(vcpu->fd, KVM_RUN, 0) == 0) {
			handle_exit(vcpu);
			continue;
		}
		if (errno == EINTR || errno == EAGAIN) {
			if (atomic_load(&vcpu->vm->pause_requested))
				park(vcpu);
			continue;
		}
		log_msg("vCPU %d: KVM_RUN: %s", vcpu->index, strerror(errno));
		dump_registers(vcpu);
		vm_request_exit(vcpu->vm, EXIT_CRASH);
	}
	return NULL;
}

static void ignore_signal(int sig)
{
	(void)sig;
}

void vcpus_start(struct vm *vm)
{
	struct sigaction sa = { .sa_handler = ignore_signal };

	/* No SA_RESTART: the kick must make KVM_RUN return EINTR. */
	sigemptyset(&sa.sa_mask);
	sigaction(KICK_SIGNAL, &sa, NULL);
	for (int i = 0; i < vm->ncpus; i++) {
		int err = pthread_create(&vm->vcpus[i].thread, NULL, vcpu_thread, &vm->vcpus[i]);

		if (err)
			die(EXIT_RUNTIME, "vCPU %d: cannot start thread: %s", i, strerror(err));
		vm->vcpus[i].thread_started = true;
	}
}

/* Called once vm_exiting() is true: take every vCPU out of KVM_RUN and join it. */
static int join_within(pthread_t thread, long ns)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t); /* pthread_timedjoin_np's clock */
	t.tv_nsec += ns;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return pthread_timedjoin_np(thread, NULL, &t);
}

void vcpus_stop(struct vm *vm)
{
	for (int i = 0; i < vm->ncpus; i++) {
		struct vcpu *vcpu = &vm->vcpus[i];

		if (vcpu->thread_started)
			kick(vcpu);
	}
	for (int i = 0; i < vm->ncpus; i++) {
		struct vcpu *vcpu = &vm->vcpus[i];

		/* Kick again while waiting: the first kick may have come before a blocking call. */
		while (vcpu->thread_started && join_within(vcpu->thread, KICK_RETRY_NS) == ETIMEDOUT)
			kick(vcpu);
		vcpu->thread_started = false;
	}
}
