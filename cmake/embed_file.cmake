# Writes OUT, a header defining `inline constexpr char NAME[]` holding the bytes of IN (as
# \xNN escapes, so any byte is safe), so that the bcqnmt binary carries the file with it
# (the web page of `bcqnmt serve`, apps/web/index.html) and needs nothing beside it.
file(READ ${IN} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "\\\\x\\1" escaped "${hex}")
file(WRITE ${OUT} "#pragma once\n// Generated from ${IN} by cmake/embed_file.cmake; do not edit.\n"
                  "inline constexpr char ${NAME}[] = \"${escaped}\";\n")
