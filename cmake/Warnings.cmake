# mediabatch_warnings: an interface target carrying the project's warning flags.
add_library(mediabatch_warnings INTERFACE)
target_compile_options(mediabatch_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
  $<$<BOOL:${MEDIABATCH_WERROR}>:-Werror>)
