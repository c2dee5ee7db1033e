# aims_targets(<var> <dir>): every target defined in <dir> and the
# directories below it (for settings applied to all of them at the end).
function(aims_targets var dir)
  get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(subdir ${subdirs})
    aims_targets(below ${subdir})
    list(APPEND targets ${below})
  endforeach()
  set(${var} ${targets} PARENT_SCOPE)
endfunction()
