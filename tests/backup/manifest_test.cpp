// The manifest parser on numbers of the wrong kind: a float or a negative number where an
// integer belongs is refused naming the file, never converted (toml++ converts an
// out-of-range float to an integer with undefined behaviour; the sanitizer leg catches it).
#include <gtest/gtest.h>

#include <string>

#include "backup/manifest.h"
#include "base/error.h"

namespace gitvault {
namespace {

const char* kStep = R"(
[[steps]]
bundle_path = 'default/p.git/p1/001.bundle'
bundle_sha256 = '9b33efef9a89020444936a29af4fd6cd3596df13a01006bda4caf463affe53f1'
bundle_size = BUNDLE_SIZE
number = NUMBER
ref_path = 'default/p.git/p1/001.refs'
ref_sha256 = '8e0ec335b53b0f1e64d1a589dd27cb91a8eed960bc1a915918671f4ce6d0c902'
ref_size = 103
)";

std::string manifest(const std::string& ref_count, const std::string& size, const std::string& number) {
  std::string step = kStep;
  step.replace(step.find("BUNDLE_SIZE"), 11, size);
  step.replace(step.find("NUMBER"), 6, number);
  return "head_reference = 'refs/heads/main'\nobject_format = 'sha1'\nref_count = " + ref_count + "\n" + step;
}

std::string refusal(const std::string& text) {
  RepositoryRecord r;
  try {
    parse_manifest(text, "m.toml", r);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Corrupt);
    return e.what();
  }
  return "";
}

TEST(Manifest, AWellFormedManifestIsRead) {
  RepositoryRecord r;
  parse_manifest(manifest("3", "302", "1"), "m.toml", r);
  EXPECT_EQ(r.ref_count, 3u);
  ASSERT_TRUE(r.bundle.has_value());
  EXPECT_EQ(r.bundle->size, 302u);
  EXPECT_EQ(r.step, 1);
}

TEST(Manifest, AFloatSizeIsRefusedNamingTheFile) {
  std::string why = refusal(manifest("1", "-1e300", "1"));
  EXPECT_NE(why.find("m.toml"), std::string::npos) << why;
  EXPECT_NE(why.find("bundle_size is not an integer"), std::string::npos) << why;
  EXPECT_NE(refusal(manifest("1", "302.0", "1")), "");
}

TEST(Manifest, ANegativeSizeIsRefused) {
  std::string why = refusal(manifest("1", "-5", "1"));
  EXPECT_NE(why.find("negative size"), std::string::npos) << why;
}

TEST(Manifest, AFloatStepNumberOrRefCountIsRefused) {
  EXPECT_NE(refusal(manifest("1", "302", "1e34")).find("number is not an integer"), std::string::npos);
  EXPECT_NE(refusal(manifest("1", "302", "2")).find("numbered 2"), std::string::npos);
  EXPECT_NE(refusal(manifest("1e34", "302", "1")).find("ref_count is not an integer"), std::string::npos);
}

}  // namespace
}  // namespace gitvault
