# Writes a C++ file holding every flags/definitions/**/*.yml, so the binary carries its
# definitions. Re-run automatically when a definition is added or changed.
file(GLOB_RECURSE defs RELATIVE "${DEF_DIR}" "${DEF_DIR}/*.yml")
list(SORT defs)
set(body "")
foreach(def IN LISTS defs)
  file(READ "${DEF_DIR}/${def}" text)
  string(APPEND body "      {\"definitions/${def}\", R\"gvdef(${text})gvdef\"},\n")
endforeach()
file(WRITE "${OUT}.new" "// Generated from flags/definitions by flags/embed_definitions.cmake. Do not edit.
#include <string>
#include <utility>
#include <vector>
namespace gitvault::flags {
const std::vector<std::pair<std::string, std::string>>& embedded_definitions() {
  static const std::vector<std::pair<std::string, std::string>> defs = {
${body}  };
  return defs;
}
}  // namespace gitvault::flags
")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different "${OUT}.new" "${OUT}")
