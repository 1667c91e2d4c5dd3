#include "base/encoding.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "base/error.h"

namespace gitvault {
namespace {

ErrorCode code_of_reading_int(const nlohmann::json& j) {
  try {
    json_integer<int>(j, "n");
  } catch (const Error& e) {
    return e.code();
  }
  return ErrorCode::Internal;  // read without complaint
}

TEST(JsonInteger, ReadsIntegersThatFitAndRefusesEverythingElseAsCorrupt) {
  EXPECT_EQ(json_integer<int>(nlohmann::json(-7), "n"), -7);
  EXPECT_EQ(json_integer<std::uint64_t>(nlohmann::json(UINT64_MAX), "n"), UINT64_MAX);
  EXPECT_EQ(json_integer<std::int64_t>(nlohmann::json::parse("1796425478"), "n"), 1796425478);
  // nlohmann's get<int>() would convert these with undefined behaviour or wrap them
  for (const char* text : {"1.79643e+54", "1796425478444444444444444444444444444", "2.5", "4294967296",
                           "\"12\"", "null", "true", "[1]"})
    EXPECT_EQ(code_of_reading_int(nlohmann::json::parse(text)), ErrorCode::Corrupt) << text;
  EXPECT_THROW(json_integer<std::uint64_t>(nlohmann::json(-1), "n"), Error);
}

TEST(JsonInteger, AMissingMemberIsTheFallbackAndABadOneNamesTheMember) {
  auto j = nlohmann::json::parse(R"({"step": 3, "bytes": 1e300})");
  EXPECT_EQ(json_integer_or<int>(j, "step", 1), 3);
  EXPECT_EQ(json_integer_or<int>(j, "absent", 1), 1);
  try {
    json_integer_or<std::uint64_t>(j, "bytes", 0);
    FAIL() << "a float read as an integer";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bytes"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace gitvault
