# Writes OUT (a header defining BCQNMT_REVISION) from `git describe` of SRC at build time,
# rewriting it only when the revision changed, so a commit recompiles one file, not all.
execute_process(COMMAND git -C ${SRC} describe --always --dirty --abbrev=12
                OUTPUT_VARIABLE revision OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE failed)
if(failed OR revision STREQUAL "")
  set(revision "unknown (not a git checkout)")
endif()
set(content "#pragma once\n#define BCQNMT_REVISION \"${revision}\"\n")
if(EXISTS ${OUT})
  file(READ ${OUT} old)
endif()
if(NOT old STREQUAL content)
  file(WRITE ${OUT} "${content}")
endif()
