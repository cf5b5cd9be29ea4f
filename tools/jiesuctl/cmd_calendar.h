/* cmd_calendar.h -- `jiesuctl calendar`: working days and due moments on the
 * official calendar (docs/CALENDAR.md).
 *
 *   calendar due START N{wd|d|h}   the due moment, ISO-8601 with +08:00, then
 *                                  " provisional" when an unpublished year was
 *                                  consulted
 *   calendar is-working DATE       "yes" or "no"
 *   calendar reload                the deadline-timer reloads its calendar
 *
 * START is YYYY-MM-DD (00:00 local) or YYYY-MM-DDTHH:MM[:SS[.fff]] with an
 * optional Z or +HH:MM / -HH:MM / +HHMM offset; without one it is local
 * (Asia/Shanghai). The calendar is every YYYY.json in holiday_dir. */
#ifndef CMD_CALENDAR_H
#define CMD_CALENDAR_H

#include <stdint.h>
#include <stdio.h>

/* Prototypes */
/* argv[0] is "calendar". Prints to stdout; returns 0, or 1 with one line
 * "jiesuctl: calendar: ..." on stderr. */
int cmd_calendar(int argc, char **argv, const char *holiday_dir);
/* The same with the streams given (for tests). */
int cmd_calendar_io(int argc, char **argv, const char *holiday_dir, FILE *out, FILE *err);
/* `calendar reload`: ask the deadline-timer's control socket (timer.control)
 * to load its calendar.dir again and recompute provisional deadlines; prints
 * {"files","examined","orders","clocks","conflicts"} and returns 0, or 1
 * with the timer's error (e.g. bad_calendar: a malformed file, nothing
 * changed) or a timeout on err. */
int cmd_calendar_reload(void *zctx, const char *endpoint, int64_t timeout_ms, FILE *out, FILE *err);
/* An ISO-8601 date or date-time as above -> epoch ms. 0 or -EINVAL. */
int cmd_calendar_parse_time(const char *s, int64_t *ms);

#endif
