#!/bin/sh
# embed.sh NAME FILE: print a C file defining `const char NAME[]` with FILE's bytes
# and `const size_t NAME_len`. Used for the Redis Functions library.
name=$1; file=$2
printf '/* generated from %s by scripts/embed.sh; do not edit */\n#include <stddef.h>\n' "$file"
printf 'const char %s[] = {\n' "$name"
od -An -v -tx1 "$file" | sed -e 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g' -e 's/^/  /'
printf '  0x00\n};\nconst size_t %s_len = sizeof(%s) - 1;\n' "$name" "$name"
