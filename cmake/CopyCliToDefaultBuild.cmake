# cmake -P script: copies the CLI to <source>/build/bin/heatkit for a preset
# that builds elsewhere, unless <source>/build is itself a configured build
# tree (the release preset): its own binary must never be replaced by, say,
# a sanitizer build's.
if(EXISTS "${DEFAULT_BUILD}/CMakeCache.txt")
  return()
endif()
file(MAKE_DIRECTORY "${DEFAULT_BUILD}/bin")
file(COPY_FILE "${CLI}" "${DEFAULT_BUILD}/bin/heatkit" ONLY_IF_DIFFERENT)
