/*
 * signals.h - SIGINT and SIGTERM as a run sees them: noted, never acted on in the
 * handler.  A wait in progress (the database's, a sleep) or the next one sees the
 * note, cancels what it waits for and fails; what runs afterwards (recording where a
 * migration stopped, releasing the lock) gets a short grace.  Process-wide state: one
 * run per process at a time.
 */
#ifndef GOSLING_SIGNALS_H
#define GOSLING_SIGNALS_H

#include <stdbool.h>

/* signals_interrupt - note signo (async-signal-safe: call it from a handler). */
void signals_interrupt(int signo);
/* signals_interrupted - the signal noted, 0 = none. */
int signals_interrupted(void);
/*
 * signals_catch - with on, SIGINT and SIGTERM call signals_interrupt (without
 * SA_RESTART: a wait in poll() or nanosleep() returns at once, and the run stops
 * cleanly); without, they are back to their defaults.
 */
void signals_catch(bool on);

#endif
