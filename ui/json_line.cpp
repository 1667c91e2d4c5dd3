#include "ui/json_line.h"

#include "base/encoding.h"

namespace gitvault {

void print_json_line(std::FILE* out, nlohmann::json j) {
  if (j.is_object()) j["schema"] = kJsonSchemaVersion;
  std::fprintf(out, "%s\n", to_json_text(j).c_str());
}

}  // namespace gitvault
