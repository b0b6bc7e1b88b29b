/*
 * Kernel entry points, linked at 1 MiB.
 *
 *   0x100000  startup_32: 32-bit boot protocol entry (flat segments,
 *             ESI = boot_params).  Builds a temporary 4 GiB identity map
 *             and enters long mode.
 *   0x100200  startup_64: 64-bit boot protocol entry (what minivmm and
 *             Linux's startup_64 use).  Assumes nothing but an identity
 *             map covering us and boot_params.
 */
#define SEL_CODE64	0x08
#define SEL_DATA	0x10
#define SEL_CODE32	0x18
#define MSR_EFER	0xc0000080

	.section .head.text, "ax"
	.code32
	.globl startup_32
startup_32:
	cli
	cld
	lgdt gdt_desc
	ljmp $SEL_CODE32, $1f
1:	movl $SEL_DATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl %eax, %fs
	movl %eax, %gs

	/* .noinit is not zeroed: clear PML4 + PDPT, then fill 4 PDs */
	movl $boot_pml4, %edi
	movl $2048, %ecx
	xorl %eax, %eax
	rep stosl
	movl $boot_pdpt + 3, boot_pml4
	movl $boot_pd + 3, %eax
	movl $boot_pdpt, %edi
	movl $4, %ecx
2:	movl %eax, (%edi)
	addl $4096, %eax
	addl $8, %edi
	loop 2b
	movl $boot_pd, %edi
	movl $0x83, %eax		/* present, writable, 2 MiB page */
	movl $2048, %ecx
3:	movl %eax, (%edi)
	movl $0, 4(%edi)
	addl $0x200000, %eax
	addl $8, %edi
	loop 3b

	movl %cr4, %eax
	orl $0x20, %eax			/* PAE */
	movl %eax, %cr4
	movl $boot_pml4, %eax
	movl %eax, %cr3
	movl $MSR_EFER, %ecx
	rdmsr
	orl $0x100, %eax		/* LME */
	wrmsr
	movl %cr0, %eax
	orl $0x80000001, %eax		/* PG | PE */
	movl %eax, %cr0
	ljmp $SEL_CODE64, $startup_64

	.org 0x200
	.code64
	.globl startup_64
startup_64:
	cli
	cld
	lgdt gdt_desc(%rip)
	movl $SEL_DATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl %eax, %fs
	movl %eax, %gs
	leaq boot_stack_top(%rip), %rsp
	pushq $SEL_CODE64
	leaq 1f(%rip), %rax
	pushq %rax
	lretq
1:	movq %rsi, %r12
	leaq __bss_start(%rip), %rdi
	leaq __bss_end(%rip), %rcx
	subq %rdi, %rcx
	shrq $3, %rcx
	xorl %eax, %eax
	rep stosq
	movq %r12, %rdi
	call kmain
2:	cli
	hlt
	jmp 2b

/* APs arrive here from the trampoline, on our page tables. */
	.globl ap_entry64
ap_entry64:
	lgdt gdt_desc(%rip)
	movl $SEL_DATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl %eax, %fs
	movl %eax, %gs
	/* claim the stack the BSP published; a late AP finds 0 and parks */
	xorl %eax, %eax
	xchgq %rax, ap_stack_top(%rip)
	testq %rax, %rax
	jz 2f
	movq %rax, %rsp
	pushq $SEL_CODE64
	leaq 1f(%rip), %rax
	pushq %rax
	lretq
1:	call ap_main
2:	cli
	hlt
	jmp 2b

/* Exception and interrupt stubs: push a uniform frame for isr_dispatch. */
	.text
	.macro isr_stub vec
	.globl isr_\vec
isr_\vec:
	.if (\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
	.else
	pushq $0
	.endif
	pushq $\vec
	jmp isr_common
	.endm

	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	isr_stub \v
	.endr
	isr_stub 48
	isr_stub 49
	isr_stub 50
	.irp v, 64,65,66,67,68,69,70,71,72,73,74,75,76,77,78,79
	isr_stub \v
	.endr
	isr_stub 255

isr_common:
	pushq %rax
	pushq %rcx
	pushq %rdx
	pushq %rbx
	pushq %rbp
	pushq %rsi
	pushq %rdi
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, %rdi
	cld
	call isr_dispatch
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rdi
	popq %rsi
	popq %rbp
	popq %rbx
	popq %rdx
	popq %rcx
	popq %rax
	addq $16, %rsp
	iretq

	.section .rodata
	.balign 8
	.globl isr_table
isr_table:
	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad isr_\v
	.endr
	.globl isr_uart, isr_timer, isr_ged, isr_virtio, isr_spurious
isr_uart:
	.quad isr_48
isr_timer:
	.quad isr_49
isr_ged:
	.quad isr_50
isr_virtio:
	.irp v, 64,65,66,67,68,69,70,71,72,73,74,75,76,77,78,79
	.quad isr_\v
	.endr
isr_spurious:
	.quad isr_255

	.section .data
	.balign 16
	.globl gdt
gdt:
	.quad 0
	.quad 0x00af9a000000ffff	/* 0x08: 64-bit code */
	.quad 0x00cf92000000ffff	/* 0x10: flat data */
	.quad 0x00cf9a000000ffff	/* 0x18: flat 32-bit code */
gdt_end:
	.globl gdt_desc
gdt_desc:
	.word gdt_end - gdt - 1
	.quad gdt

	.section .noinit, "aw", @nobits
	.balign 4096
boot_pml4:
	.skip 4096
boot_pdpt:
	.skip 4096
boot_pd:
	.skip 4 * 4096
	.balign 16
	.skip 16384
boot_stack_top:
