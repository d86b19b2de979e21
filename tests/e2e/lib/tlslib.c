// SPDX-License-Identifier: MIT
/*
 * A tiny shared library with thread-local storage, dlopen'ed and dlclose'd
 * by examples/trap_dlopen_tls in a loop (run.sh builds it into its temp
 * directory).  Touching a dynamic TLS variable makes ld.so allocate and
 * free the thread's TLS block inside _dl_update_slotinfo.
 */
static __thread char block[4096];
static __thread unsigned long counter;

unsigned long tls_touch(void)
{
	block[counter % sizeof(block)] = 1;
	return ++counter;
}
