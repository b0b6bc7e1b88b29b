/*
 * Whole-machine state: save and restore of vCPUs, irqchip, PIT, clock and
 * every device, with guest RAM and writable disks, in the directory format of
 * docs/snapshot-format.md. Called on the I/O thread with the VM paused.
 */
#ifndef MINIVMM_SNAPSHOT_H
#define MINIVMM_SNAPSHOT_H

#include <stddef.h>

struct vm;

/* Each returns 0, or -1 with a one-line reason in @why. */
int snapshot_save(struct vm *vm, const char *name, char *why, size_t whylen);
int snapshot_load(struct vm *vm, const char *name, char *why, size_t whylen);
int snapshot_delete(struct vm *vm, const char *name, char *why, size_t whylen);
/* Print one line per snapshot through @print. */
int snapshot_list(struct vm *vm, void (*print)(void *ctx, const char *line), void *ctx,
		  char *why, size_t whylen);

/* Start a new VM from the snapshot directory @dir (--restore); dies with status 1. */
void snapshot_restore_at_start(struct vm *vm, const char *dir);

/* Put the machine back to its power-on state and boot again (system_reset). */
int vm_reset(struct vm *vm, char *why, size_t whylen);

#endif
