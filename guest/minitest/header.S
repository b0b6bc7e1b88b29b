/*
 * Real-mode part of the bzImage: the Linux setup header (boot protocol
 * 2.15) and the 16-bit entry used by BIOS loaders (SeaBIOS linuxboot,
 * qboot).  It collects the e820 map through int 0x15, switches to 32-bit
 * protected mode and jumps to code32_start (startup_32 in head.S), which
 * enters long mode.  minivmm skips all of this and enters startup_64.
 *
 * The loader enters at (seg+0x20):0 with DS = ES = SS = seg, where seg:0
 * is the start of this image (the boot_params zero page).
 */
#define BP_E820_ENTRIES	0x1e8
#define BP_E820_TABLE	0x2d0
#define E820_MAX	128
#define SMAP		0x534d4150

	.section .setup, "ax"
	.code16

	.org 0x1f1
	.byte hdr_setup_sects		/* setup_sects */
	.word 0				/* root_flags */
	.long hdr_syssize		/* syssize, 16-byte units */
	.word 0				/* ram_size (obsolete) */
	.word 0xffff			/* vid_mode: normal */
	.word 0				/* root_dev */
	.word 0xaa55			/* boot_flag */

	.org 0x200
	.byte 0xeb, setup_jump - 1f	/* short jmp: the real-mode entry */
1:	.ascii "HdrS"
	.word 0x020f			/* boot protocol 2.15 */
	.long 0				/* realmode_swtch */
	.word 0				/* start_sys_seg */
	.word version_str - 0x200	/* kernel_version */
	.byte 0				/* type_of_loader */
	.byte 0x01			/* loadflags: LOADED_HIGH */
	.word 0				/* setup_move_size */
	.long 0x100000			/* code32_start */
	.long 0				/* ramdisk_image */
	.long 0				/* ramdisk_size */
	.long 0				/* bootsect_kludge */
	.word 0				/* heap_end_ptr */
	.byte 0				/* ext_loader_ver */
	.byte 0				/* ext_loader_type */
	.long 0				/* cmd_line_ptr */
	.long 0x7fffffff		/* initrd_addr_max */
	.long 0x200000			/* kernel_alignment */
	.byte 0				/* relocatable_kernel */
	.byte 21			/* min_alignment (log2) */
	.word 0x0001			/* xloadflags: XLF_KERNEL_64 */
	.long 2047			/* cmdline_size */
	.long 0				/* hardware_subarch */
	.quad 0				/* hardware_subarch_data */
	.long 0				/* payload_offset */
	.long 0				/* payload_length */
	.quad 0				/* setup_data */
	.quad 0x100000			/* pref_address */
	.long hdr_init_size		/* init_size */
	.long 0				/* handover_offset */
	.long 0				/* kernel_info_offset */

	/*
	 * The rest of the first 4 KiB is the boot_params zero page (e820
	 * table at 0x2d0 and so on), filled in at run time: code lives above.
	 */
setup_jump:
	jmp start_of_setup

	.org 0x1000
start_of_setup:
	cli
	cld
	movw %ds, %ax
	movw %ax, %es
	movw %ax, %ss
	movw $setup_stack_top, %sp
	/* make CS equal DS so our labels (linked at 0) are CS offsets too */
	pushw %ax
	pushw $1f
	lretw
1:
	call do_e820

	cli
	movb $0x80, %al			/* mask NMI, as Linux does */
	outb %al, $0x70
	inb $0x92, %al			/* fast A20; never touch bit 0 (reset) */
	orb $0x02, %al
	andb $0xfe, %al
	outb %al, $0x92

	/* linear address of boot_params, and fix up the GDT pointers */
	xorl %eax, %eax
	movw %ds, %ax
	shll $4, %eax
	movl %eax, %esi
	movl %eax, %edx
	addl $setup_gdt, %edx
	movl %edx, setup_gdtr + 2
	movl %eax, %edx
	addl $pm32, %edx
	movl %edx, pm32_ptr
	lgdtl setup_gdtr

	movl %cr0, %eax
	orl $1, %eax
	movl %eax, %cr0
	ljmpl *pm32_ptr

	.code32
pm32:
	movl $0x18, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl %eax, %fs
	movl %eax, %gs
	/* 32-bit boot protocol: ESI = boot_params, jump to code32_start */
	jmpl *0x214(%esi)

	.code16
/*
 * Fill boot_params.e820_table via int 0x15/e820.  Entries go through a
 * bounce buffer because some BIOSes write more than asked for.  If the
 * BIOS has no e820 the loader-provided table (if any) is left alone.
 */
do_e820:
	xorl %ebx, %ebx
	movw $0, e820_count
2:	movl $0xe820, %eax
	movl $SMAP, %edx
	movl $20, %ecx
	movw $e820_buf, %di
	int $0x15
	jc 3f
	cmpl $SMAP, %eax
	jne 3f
	pushl %ebx
	movw e820_count, %ax
	movw $20, %cx
	mulw %cx
	addw $BP_E820_TABLE, %ax
	movw %ax, %di
	movw $e820_buf, %si
	movw $20, %cx
	rep movsb
	popl %ebx
	incw e820_count
	cmpw $E820_MAX, e820_count
	jae 3f
	/* the BIOS hands back the continuation value in ebx */
	testl %ebx, %ebx
	jnz 2b
3:	movw e820_count, %ax
	testw %ax, %ax
	jz 4f
	movb %al, BP_E820_ENTRIES
4:	ret

	.balign 8
setup_gdt:
	.quad 0
	.quad 0
	.quad 0x00cf9a000000ffff	/* 0x10: flat 32-bit code (__BOOT_CS) */
	.quad 0x00cf92000000ffff	/* 0x18: flat data (__BOOT_DS) */
setup_gdt_end:
setup_gdtr:
	.word setup_gdt_end - setup_gdt - 1
	.long 0				/* patched: linear address */
pm32_ptr:
	.long 0				/* patched: linear address of pm32 */
	.word 0x10
e820_count:
	.word 0
e820_buf:
	.fill 24, 1, 0
version_str:
	.asciz "minitest"

	.balign 16
	.fill 1024, 1, 0
setup_stack_top:
