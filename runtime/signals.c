/*
 * signals.c - SIGINT and SIGTERM noted for the waits to see (signals.h).
 */
#include <signal.h>
#include <stddef.h>

#include "signals.h"

static volatile sig_atomic_t interrupt_signal;

void
signals_interrupt(int signo)
{
	interrupt_signal = signo;
}

int
signals_interrupted(void)
{
	return interrupt_signal;
}

static void
on_signal(int signo)
{
	signals_interrupt(signo);
}

void
signals_catch(bool on)
{
	/* no SA_RESTART: a wait in poll() or nanosleep() returns at once */
	struct sigaction sa = { .sa_handler = on ? on_signal : SIG_DFL };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}
