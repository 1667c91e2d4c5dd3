// Names of any bytes travel through JSON exactly (base/encoding.h), and the text is UTF-8.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "base/encoding.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  nlohmann::json j = {{"relative_path", bytes}, {"list", {bytes, "x"}}};
  std::string text = gitvault::to_json_text(j);
  if (!gitvault::is_valid_utf8(text)) std::abort();
  if (gitvault::parse_json_text(text) != j) std::abort();
  (void)gitvault::printable(bytes);
  return 0;
}
