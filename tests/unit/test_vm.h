/*
 * A struct vm with just what the console and event loop touch (exit status and
 * eventfd, the pause lock, the event loop), for unit tests that drive them
 * without KVM.
 */
#ifndef MINIVMM_TEST_VM_H
#define MINIVMM_TEST_VM_H

#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "unit.h"
#include "../../vmm/vm.h"

static inline void test_vm_init(struct vm *vm)
{
	vm->exit_status = EXIT_STATUS_RUNNING;
	vm->exit_eventfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(vm->exit_eventfd >= 0);
	pthread_mutex_init(&vm->pause_lock, NULL);
	pthread_cond_init(&vm->pause_cond, NULL);
	assert_int_equal(event_loop_init(&vm->loop), 0);
}

static inline void test_vm_destroy(struct vm *vm)
{
	close(vm->exit_eventfd);
	event_loop_destroy(&vm->loop);
}

#endif
