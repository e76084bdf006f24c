# heatkit_check_no_inherited_flags(<target>): fails when <target>, or any
# target it passes on through INTERFACE_LINK_LIBRARIES, would put one of the
# library's own code-generation flags on its users' compile lines. The
# library builds its math with -ffp-contract=off; a user's code keeps its own
# floating-point contraction.
function(heatkit_check_no_inherited_flags target)
  set(pending ${target})
  set(seen "")
  while(pending)
    list(POP_FRONT pending current)
    if(NOT TARGET ${current} OR current IN_LIST seen)
      continue()
    endif()
    list(APPEND seen ${current})
    get_target_property(options ${current} INTERFACE_COMPILE_OPTIONS)
    if(options AND options MATCHES "-ffp-contract")
      message(FATAL_ERROR "${current} passes -ffp-contract to the code that links ${target} "
                          "(INTERFACE_COMPILE_OPTIONS: ${options}); it must stay private to the library")
    endif()
    get_target_property(links ${current} INTERFACE_LINK_LIBRARIES)
    if(links)
      foreach(link IN LISTS links)
        # $<LINK_ONLY:x> (a static library's private links) adds no compile options.
        if(NOT link MATCHES "^\\$<")
          list(APPEND pending ${link})
        endif()
      endforeach()
    endif()
  endwhile()
endfunction()
