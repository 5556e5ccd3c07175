/*
 * clock.h - the runtime's time: the wall clock in milliseconds, the arithmetic of
 * deadlines (ms since the epoch, 0 = none), a sleep a signal ends, and the UTC
 * timestamp logs and results print.  Everything that waits or reports a time uses
 * these, so no module includes db.h to know what time it is.
 */
#ifndef GOSLING_CLOCK_H
#define GOSLING_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* clock_now_ms - wall clock in ms since the epoch (the unit of every deadline). */
int64_t clock_now_ms(void);

/* clock_earliest - the earlier of two deadlines, 0 meaning none: (0, 5) is 5, (3, 5) is 3. */
int64_t clock_earliest(int64_t a, int64_t b);

/*
 * clock_sleep_ms - sleep ms milliseconds; a signal caught meanwhile (SIGINT, SIGTERM:
 * signals_catch installs no SA_RESTART) ends the sleep early, so the caller looks
 * at its deadline and signals_interrupted() again.
 */
void clock_sleep_ms(int64_t ms);

/* clock_utc_text - now as 2026-12-02T01:25:03.123Z into out (at least CLOCK_TEXT_LEN bytes). */
#define CLOCK_TEXT_LEN 32
void clock_utc_text(char *out, size_t outlen);

#endif
