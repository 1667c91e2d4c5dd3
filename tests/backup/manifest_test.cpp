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

// A fork network's member: its first steps are its pool's (docs/fork-networks.md).
FileDigest digest(const std::string& name, char hex, std::uint64_t size) {
  FileDigest d;
  d.name = name;
  d.sha256 = std::string(64, hex);
  d.size = size;
  return d;
}

TEST(Manifest, APoolLinkRoundTripsAndOneLongerThanTheChainIsRefused) {
  RepositoryRecord r;
  r.storage = "default";
  r.relative_path = "fork.git";
  r.layout = Layout::Manifest;
  r.status = ItemStatus::Ok;
  r.kind = StepKind::Incremental;
  r.step = 2;
  FileDigest pool_refs = digest("default/pool.git/b1/001.refs", 'a', 10);
  r.previous_steps.push_back({"b1", 1, digest("default/pool.git/b1/001.bundle", 'b', 300), pool_refs, {}});
  r.bundle = digest("default/fork.git/b1/002.bundle", 'c', 200);
  r.refs = digest("default/fork.git/b1/002.refs", 'd', 20);
  r.pool = {"pool.git", 1};
  const std::string text = format_manifest(r);
  RepositoryRecord back;
  parse_manifest(text, "m.toml", back);
  EXPECT_EQ(back.pool.relative_path, "pool.git");
  EXPECT_EQ(back.pool.steps, 1u);
  ASSERT_EQ(back.previous_steps.size(), 1u);
  EXPECT_EQ(back.previous_steps[0].refs.name, pool_refs.name);

  std::string longer = text;
  longer.replace(longer.find("pool_steps = 1"), 14, "pool_steps = 2");
  std::string why = refusal(longer);
  EXPECT_NE(why.find("m.toml"), std::string::npos) << why;
  EXPECT_NE(why.find("the pool's 2 steps are more than the 1 steps"), std::string::npos) << why;
  std::string none = text;
  none.replace(none.find("pool_steps = 1"), 14, "pool_steps = 0");
  EXPECT_NE(refusal(none).find("without a positive pool_steps"), std::string::npos);
}

}  // namespace
}  // namespace gitvault
