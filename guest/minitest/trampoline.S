/*
 * AP start-up trampoline.  The BSP copies [trampoline_start,
 * trampoline_end) to physical TRAMPOLINE_BASE (0x1000) and sends
 * STARTUP IPIs with vector 0x01, so APs begin here in real mode at
 * 0100:0000.  Everything is addressed relative to the copy, never to
 * where it is linked.
 */
#define TRAMPOLINE_BASE	0x1000
#define T(x)		((x) - trampoline_start)
#define LIN(x)		(TRAMPOLINE_BASE + T(x))

	.section .rodata
	.balign 16
	.globl trampoline_start, trampoline_end, trampoline_cr3
	.code16
trampoline_start:
	cli
	cld
	movw %cs, %ax
	movw %ax, %ds
	lgdtl T(tr_gdtr)
	movl %cr0, %eax
	orl $1, %eax
	movl %eax, %cr0
	ljmpl $0x08, $LIN(tr_pm32)

	.code32
tr_pm32:
	movl $0x10, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl %cr4, %eax
	orl $0x20, %eax			/* PAE */
	movl %eax, %cr4
	movl LIN(trampoline_cr3), %eax
	movl %eax, %cr3
	movl $0xc0000080, %ecx
	rdmsr
	orl $0x100, %eax		/* EFER.LME */
	wrmsr
	movl %cr0, %eax
	orl $0x80000001, %eax
	movl %eax, %cr0
	ljmp $0x18, $LIN(tr_lm)

	.code64
tr_lm:
	movl $ap_entry64, %eax
	jmp *%rax

	.balign 8
tr_gdt:
	.quad 0
	.quad 0x00cf9a000000ffff	/* 0x08: flat 32-bit code */
	.quad 0x00cf92000000ffff	/* 0x10: flat data */
	.quad 0x00af9a000000ffff	/* 0x18: 64-bit code */
tr_gdt_end:
tr_gdtr:
	.word tr_gdt_end - tr_gdt - 1
	.long LIN(tr_gdt)
trampoline_cr3:
	.long 0
trampoline_end:
