/* functions.h -- the jiesu Redis Functions library (common/functions.lua),
 * embedded in every binary at build time (scripts/embed.sh). */
#ifndef JS_FUNCTIONS_H
#define JS_FUNCTIONS_H

#include <stddef.h>

#define JS_LIB_NAME "jiesu"
#define JS_LIB_VERSION 3 /* = JIESU_LIB_VERSION in functions.lua; test_functions checks */

extern const char js_lua_functions[];
extern const size_t js_lua_functions_len;

#endif
