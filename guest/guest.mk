# minitest: the freestanding test guest kernel (see guest/minitest/README.md).
# Included by the top-level Makefile, which defines BUILD; also usable as
#   make -f guest/guest.mk BUILD=build build/guest/minitest.bzImage

BUILD ?= build
MINITEST_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))/minitest
MINITEST_OUT := $(BUILD)/guest
MINITEST := $(MINITEST_OUT)/minitest.bzImage

MINITEST_CC ?= gcc
MINITEST_LD ?= ld
MINITEST_OBJCOPY ?= objcopy

MINITEST_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror \
	-ffreestanding -nostdlib -fno-builtin -fno-strict-aliasing \
	-fno-stack-protector \
	-fno-pic -fno-pie -mcmodel=small -mno-red-zone \
	-mno-sse -mno-mmx -mgeneral-regs-only -fcf-protection=none \
	-fno-asynchronous-unwind-tables -fno-unwind-tables \
	-fno-tree-loop-distribute-patterns
MINITEST_ASFLAGS := -D__ASSEMBLY__ -Wa,--noexecstack -fno-pic -fno-pie

MINITEST_C := lib.c parse.c tables.c console.c cpu.c apic.c acpi.c virtio.c \
	blk.c net.c netstack.c netapp.c nethostile.c vconsole.c counter.c \
	main.c demo.c
MINITEST_S := header.S head.S trampoline.S
MINITEST_OBJS := $(addprefix $(MINITEST_OUT)/,$(MINITEST_S:.S=.o) $(MINITEST_C:.c=.o))
MINITEST_HDRS := $(wildcard $(MINITEST_DIR)/*.h)

$(MINITEST): $(MINITEST_OUT)/minitest.elf
	$(MINITEST_OBJCOPY) -O binary $< $@

$(MINITEST_OUT)/minitest.elf: $(MINITEST_OBJS) $(MINITEST_DIR)/minitest.ld
	$(MINITEST_LD) -nostdlib -static -no-pie --no-warn-rwx-segments \
		-z noexecstack -T $(MINITEST_DIR)/minitest.ld -o $@ $(MINITEST_OBJS)

$(MINITEST_OUT)/%.o: $(MINITEST_DIR)/%.c $(MINITEST_HDRS) | $(MINITEST_OUT)
	$(MINITEST_CC) $(MINITEST_CFLAGS) -c -o $@ $<

$(MINITEST_OUT)/%.o: $(MINITEST_DIR)/%.S | $(MINITEST_OUT)
	$(MINITEST_CC) $(MINITEST_ASFLAGS) -c -o $@ $<

$(MINITEST_OUT):
	mkdir -p $@

# Host-side unit test of the hardware-independent parts.
MINITEST_HOSTTEST := $(MINITEST_OUT)/hosttest
$(MINITEST_HOSTTEST): $(MINITEST_DIR)/hosttest.c $(MINITEST_DIR)/lib.c \
		$(MINITEST_DIR)/parse.c $(MINITEST_DIR)/tables.c \
		$(MINITEST_HDRS) | $(MINITEST_OUT)
	$(MINITEST_CC) -std=gnu11 -O1 -g -Wall -Wextra -Werror -fno-builtin \
		-o $@ $(MINITEST_DIR)/hosttest.c

.PHONY: minitest minitest-hosttest
minitest: $(MINITEST)
minitest-hosttest: $(MINITEST_HOSTTEST)
	$(MINITEST_HOSTTEST)
